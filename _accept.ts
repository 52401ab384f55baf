/**
 * The passive side's wait for its counterpart: accept peers, turn away those
 * outside the allow list, vet the others (TLS handshake, secret exchange)
 * side by side under a time limit, and hand over the first that passes,
 * closing the listener and every other candidate at once.
 *
 * @module
 */
import { formatAddr } from "./address.ts";
import { closeQuietly, SetupScope } from "./_abort.ts";
import { isAllowed } from "./_allow.ts";
import { authenticate } from "./auth.ts";
import { completeHandshake } from "./tls.ts";

/** Peers vetted at once by a passive connector; the oldest is dropped beyond. */
const MAX_PENDING_PEERS = 64;

/** What {@linkcode vetPeer} checks. */
export interface VetOptions {
  /** The peer is a `Deno.TlsConn` whose handshake must complete. */
  tls: boolean;
  /** The shared secret the peer must prove, if any. */
  secret: Uint8Array | undefined;
  /** Milliseconds the peer gets for all checks. */
  timeout: number;
}

/** Runs the checks a candidate peer must pass before it becomes the counterpart. */
export async function vetPeer(
  conn: Deno.Conn,
  options: VetOptions,
  signal: AbortSignal,
): Promise<void> {
  using scope = new SetupScope(
    [signal],
    options.timeout,
    () =>
      new Deno.errors.TimedOut(
        `Handshake with ${formatAddr(conn.remoteAddr)} timed out`,
      ),
  );
  if (options.tls) {
    await completeHandshake(conn as Deno.TlsConn, scope.signal);
  }
  if (options.secret !== undefined) {
    await authenticate(conn, "passive", options.secret, scope.signal);
  }
}

/** What {@linkcode acceptCounterpart} needs from its connector. */
export interface AcceptOptions {
  /** The open listener; closed through `closeListener`. */
  listener: Deno.Listener;
  /** Ends the wait with its reason. */
  signal: AbortSignal;
  /** Compiled allow list; undefined admits every peer. */
  allow: import("./_allow.ts").AllowList | undefined;
  /** The checks a candidate must pass; undefined: the first peer wins. */
  vet: ((conn: Deno.Conn, signal: AbortSignal) => Promise<void>) | undefined;
  /** Closes the listening socket (idempotent). */
  closeListener(): void;
  /** Counts a peer closed instead of accepted. */
  onRejected(): void;
  /** The error to reject with when `accept()` fails for good. */
  acceptError(error: unknown): unknown;
}

/**
 * Waits for the first allowed peer that passes the checks. On every outcome
 * the listener and every other candidate are closed before it settles.
 */
export function acceptCounterpart(options: AcceptOptions): Promise<Deno.Conn> {
  const { listener, signal } = options;
  const pending = new Set<Deno.Conn>();
  return new Promise<Deno.Conn>((resolve, reject) => {
    let settled = false;
    // The accept in flight: a listener with a pending accept is only really
    // closed once that accept has settled, so results wait for it.
    let accepting: Promise<unknown> = Promise.resolve();
    const finish = (report: () => void) => {
      settled = true;
      signal.removeEventListener("abort", onAbort);
      options.closeListener();
      for (const conn of pending) closeQuietly(conn);
      pending.clear();
      accepting.then(report, report);
    };
    const onAbort = () => {
      if (!settled) finish(() => reject(signal.reason));
    };
    const win = (conn: Deno.Conn) => {
      if (settled) return closeQuietly(conn);
      pending.delete(conn);
      finish(() => resolve(conn));
    };
    const drop = (conn: Deno.Conn) => {
      pending.delete(conn);
      closeQuietly(conn);
      options.onRejected();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const acceptLoop = async () => {
      while (!settled) {
        let conn: Deno.Conn;
        try {
          const accepted = listener.accept();
          accepting = accepted;
          conn = await accepted;
        } catch (error) {
          if (settled) return;
          accepting = Promise.resolve();
          if (
            error instanceof Deno.errors.NotConnected ||
            error instanceof Deno.errors.ConnectionReset ||
            error instanceof Deno.errors.ConnectionAborted
          ) {
            // The peer reset before it was accepted: it is gone, wait on.
            options.onRejected();
            continue;
          }
          const failure = options.acceptError(error);
          finish(() => reject(failure));
          return;
        }
        accepting = Promise.resolve();
        if (settled) return closeQuietly(conn);
        if (
          options.allow !== undefined &&
          !isAllowed(conn.remoteAddr, options.allow)
        ) {
          drop(conn);
          continue;
        }
        if (options.vet === undefined) return win(conn);
        pending.add(conn);
        if (pending.size > MAX_PENDING_PEERS) {
          drop(pending.values().next().value!);
        }
        options.vet(conn, signal).then(
          () => win(conn),
          () => {
            if (pending.has(conn)) drop(conn);
          },
        );
      }
    };
    acceptLoop();
  });
}
