/**
 * The passive side's wait for its counterpart: accept peers, turn away those
 * outside the allow list, vet the others (TLS handshake, secret exchange)
 * side by side under a time limit, and hand over the first that passes,
 * closing the listener and every other candidate at once.
 *
 * Under a flood the peers in vetting are bounded by a queue sized from the
 * process's free descriptors; when it is full, the peer that has shown the
 * least progress goes first (silent before mid-handshake, oldest first among
 * equals), and silent peers lose most of their handshake time. A process out
 * of descriptors (EMFILE, ENFILE) backs off and keeps waiting. The design and
 * its measurements are in docs/vetting.md.
 *
 * @module
 */
import { formatAddr } from "./address.ts";
import { closeQuietly, SetupScope } from "./_abort.ts";
import { type AllowList, isAllowed } from "./_allow.ts";
import type { RejectedPeer } from "./_options.ts";
import { authenticate, type AuthenticationResult } from "./auth.ts";
import { countDescriptors, isDescriptorExhaustion } from "./_descriptors.ts";
import { completeHandshake } from "./tls.ts";
import { NotAllowedError, QueueFullError } from "./errors.ts";
import { PeerReader, ShareQueue, useShareQueue } from "./_share_queue.ts";

/**
 * How far a peer in vetting has got, least first. For TLS a peer that sent
 * nothing and one that sent a ClientHello and stalled look the same (Deno
 * tells only when the handshake completes or fails), so both are `Silent`.
 */
export const Progress = Object.freeze({
  /** Accepted; nothing seen yet (no TLS handshake, no secret bytes). */
  Silent: 0,
  /** The TLS handshake completed; the secret exchange has not started. */
  Secured: 1,
  /** The first bytes of the secret exchange arrived. */
  Speaking: 2,
});

/** One of the {@linkcode Progress} levels. */
export type ProgressLevel = typeof Progress[keyof typeof Progress];

/** Queue size when the descriptors cannot be counted (no read access to /proc/self). */
export const FALLBACK_QUEUE_SIZE = 512;
/** The queue never shrinks below this, however few descriptors are left. */
export const MIN_QUEUE_SIZE = 8;
/** Upper bound on the queue, whatever the descriptor budget (memory, CPU). */
export const MAX_QUEUE_SIZE = 4096;
/** Milliseconds a silent peer keeps when the queue is at least half full. */
export const SILENT_TIME_UNDER_PRESSURE = 1000;
/** Milliseconds between two counts of the open descriptors during a wait. */
const RECOUNT_INTERVAL = 500;
/** First and longest pause after an accept failed for want of descriptors. */
const EXHAUSTION_BACKOFF = { first: 10, max: 1000 };

/** What {@linkcode vetPeer} checks. */
export interface VetOptions {
  /** The peer is a `Deno.TlsConn` whose handshake must complete. */
  tls: boolean;
  /** The shared secret the peer must prove, if any. */
  secret: Uint8Array | undefined;
  /** Milliseconds the peer gets for all checks. */
  timeout: number;
  /** Announce in the secret exchange that this side confirms delivery. */
  confirmDelivery?: boolean;
  /** Announce in the secret exchange that this side encrypts the stream. */
  encrypt?: boolean;
}

/** The share queue of the listener that accepted a connection. */
const shareQueues = new WeakMap<Deno.Conn, ShareQueue>();

/**
 * Runs the checks a candidate peer must pass before it becomes the
 * counterpart, reporting each step it completes to `onProgress`.
 */
export async function vetPeer(
  conn: Deno.Conn,
  options: VetOptions,
  signal: AbortSignal,
  onProgress: (level: ProgressLevel) => void = () => {},
): Promise<AuthenticationResult | undefined> {
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
    onProgress(Progress.Secured);
  }
  if (options.secret === undefined) return undefined;
  const peer = new PeerReader(conn, () => onProgress(Progress.Speaking));
  const shares = shareQueues.get(conn);
  if (shares !== undefined) useShareQueue(peer, shares, scope.signal);
  return await authenticate(
    peer.conn,
    "passive",
    options.secret,
    scope.signal,
    { confirm: options.confirmDelivery, encrypt: options.encrypt },
  );
}

/** Peers in vetting, by progress and, within a level, by age (oldest first). */
class VettingQueue implements Iterable<Deno.Conn> {
  #levels: Map<Deno.Conn, number>[] = [new Map(), new Map(), new Map()];
  #level = new Map<Deno.Conn, ProgressLevel>();

  get size(): number {
    return this.#level.size;
  }

  has(conn: Deno.Conn): boolean {
    return this.#level.has(conn);
  }

  /** Adds a silent peer, accepted at `now` (ms). */
  add(conn: Deno.Conn, now: number): void {
    this.#level.set(conn, Progress.Silent);
    this.#levels[Progress.Silent].set(conn, now);
  }

  /** Moves a peer up to `level` (never down); it is the youngest there. */
  promote(conn: Deno.Conn, level: ProgressLevel, now: number): void {
    const current = this.#level.get(conn);
    if (current === undefined || current >= level) return;
    this.#levels[current].delete(conn);
    this.#levels[level].set(conn, now);
    this.#level.set(conn, level);
  }

  delete(conn: Deno.Conn): void {
    const level = this.#level.get(conn);
    if (level === undefined) return;
    this.#levels[level].delete(conn);
    this.#level.delete(conn);
  }

  /** The oldest peer of the lowest level that has one. */
  leastProgressed(): Deno.Conn | undefined {
    for (const level of this.#levels) {
      for (const conn of level.keys()) return conn;
    }
    return undefined;
  }

  /** Silent peers accepted before `before` (ms), oldest first. */
  *silentSince(before: number): Generator<Deno.Conn> {
    for (const [conn, since] of this.#levels[Progress.Silent]) {
      if (since >= before) return;
      yield conn;
    }
  }

  [Symbol.iterator](): Iterator<Deno.Conn> {
    return this.#level.keys();
  }

  clear(): void {
    if (this.#level.size === 0) return; // the common case: nothing vetted
    for (const level of this.#levels) level.clear();
    this.#level.clear();
  }
}

/**
 * How many peers may be in vetting: half the free descriptors (the other
 * half is left to the program and, with TLS, to dropped peers whose sockets
 * Deno keeps open), plus those already in vetting, within
 * [{@linkcode MIN_QUEUE_SIZE}, {@linkcode MAX_QUEUE_SIZE}];
 * {@linkcode FALLBACK_QUEUE_SIZE} when the descriptors cannot be counted.
 */
export function queueSizeFromDescriptors(inVetting: number): number {
  const count = countDescriptors();
  if (count === undefined) return FALLBACK_QUEUE_SIZE;
  const free = Math.max(0, count.limit - count.open);
  return Math.min(
    MAX_QUEUE_SIZE,
    Math.max(MIN_QUEUE_SIZE, inVetting + Math.floor(free / 2)),
  );
}

/** What {@linkcode acceptCounterpart} needs from its connector. */
export interface AcceptOptions {
  /** The open listener; closed through `closeListener`. */
  listener: Deno.Listener;
  /** Ends the wait with its reason. */
  signal: AbortSignal;
  /** Compiled allow list; undefined admits every peer. */
  allow: AllowList | undefined;
  /**
   * The checks a candidate must pass, reporting its progress; undefined: the
   * first peer wins.
   */
  vet:
    | ((
      conn: Deno.Conn,
      signal: AbortSignal,
      onProgress: (level: ProgressLevel) => void,
    ) => Promise<unknown>)
    | undefined;
  /** Milliseconds a peer gets for its checks (bounds the time under pressure). */
  handshakeTimeout?: number;
  /** Peers vetted at once; default: from the descriptor budget. */
  queueSize?: number;
  /**
   * Hellos that may wait for their share at once; default
   * `MAX_WAITING_HELLOS` (`_share_queue.ts`).
   */
  waitingHellos?: number;
  /** Closes the listening socket (idempotent). */
  closeListener(): void;
  /**
   * Counts and reports a peer closed instead of accepted: its address (when
   * it got that far) and why.
   */
  onRejected(peer: Deno.Addr | undefined, reason: unknown): void;
  /** Counts an accept that failed for want of descriptors (EMFILE, ENFILE). */
  onExhausted?(): void;
  /** The error to reject with when `accept()` fails for good. */
  acceptError(error: unknown): unknown;
}

/** Whether an accept failed because the peer went away before it was accepted. */
function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}

/**
 * Waits for the first allowed peer that passes the checks. On every outcome
 * the listener and every other candidate are closed before it settles.
 */
export function acceptCounterpart(options: AcceptOptions): Promise<Deno.Conn> {
  const { listener, signal } = options;
  const queue = new VettingQueue();
  const shares = new ShareQueue({ capacity: options.waitingHellos });
  const silentTime = Math.min(
    options.handshakeTimeout ?? Infinity,
    SILENT_TIME_UNDER_PRESSURE,
  );
  // Sized once enough peers are in vetting for the size to matter: counting
  // the descriptors reads /proc (85–300 µs), more than a whole TCP pair.
  let queueSize: number | undefined = options.queueSize;
  let counted = 0; // set by the first count, which needs no interval
  const recount = (now: number) => {
    if (options.queueSize !== undefined) return;
    if (queueSize !== undefined && now - counted < RECOUNT_INTERVAL) return;
    counted = now;
    queueSize = queueSizeFromDescriptors(queue.size);
  };
  return new Promise<Deno.Conn>((resolve, reject) => {
    let settled = false;
    // The accept in flight: a listener with a pending accept is only really
    // closed once that accept has settled, so results wait for it.
    let accepting: Promise<unknown> | undefined;
    let wake: (() => void) | undefined;
    const finish = (report: () => void) => {
      settled = true;
      signal.removeEventListener("abort", onAbort);
      options.closeListener();
      shares.close(
        new Deno.errors.Interrupted("the wait for a counterpart ended"),
      );
      for (const conn of queue) closeQuietly(conn);
      queue.clear();
      wake?.();
      if (accepting === undefined) report();
      else accepting.then(report, report);
    };
    const onAbort = () => {
      if (!settled) finish(() => reject(signal.reason));
    };
    const win = (conn: Deno.Conn) => {
      // A peer dropped (and closed) while its last check was completing
      // must not win: it is closed and already counted.
      if (settled || !queue.has(conn)) return;
      queue.delete(conn);
      finish(() => resolve(conn));
    };
    const drop = (conn: Deno.Conn, reason: unknown) => {
      queue.delete(conn);
      // A peer whose hello waits for its answer is told why it goes.
      const told = shares.withdraw(conn, reason);
      if (told === undefined) closeQuietly(conn);
      else told.then(() => closeQuietly(conn));
      options.onRejected(conn.remoteAddr, reason);
    };
    /** Makes room: silent peers past their time under pressure, then the least progressed. */
    const shed = (now: number, queueSize: number) => {
      if (queue.size * 2 >= queueSize) {
        for (const conn of [...queue.silentSince(now - silentTime)]) {
          drop(
            conn,
            new Deno.errors.TimedOut(
              "dropped: silent while the queue of peers in vetting was under pressure",
            ),
          );
        }
      }
      while (queue.size > queueSize) {
        drop(
          queue.leastProgressed()!,
          new QueueFullError(
            `dropped: more than ${queueSize} peers were being vetted at once`,
          ),
        );
      }
    };
    /** Resolves after `ms`, or at once when the wait ends. */
    const pause = (ms: number) =>
      new Promise<void>((done) => {
        const timer = setTimeout(() => {
          wake = undefined;
          done();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          done();
        };
      });
    signal.addEventListener("abort", onAbort);
    const admit = (conn: Deno.Conn, vet: NonNullable<AcceptOptions["vet"]>) => {
      const now = performance.now();
      // With fewer than half of MIN_QUEUE_SIZE peers in vetting, shedding
      // drops nobody whatever the count: no count, no shedding.
      const pressure = options.queueSize !== undefined ||
        (queue.size + 1) * 2 >= MIN_QUEUE_SIZE;
      if (pressure) recount(now);
      queue.add(conn, now);
      if (pressure) shed(now, queueSize!);
      if (!queue.has(conn)) return;
      shareQueues.set(conn, shares);
      vet(
        conn,
        signal,
        (level) => queue.promote(conn, level, performance.now()),
      ).then(
        () => win(conn),
        (error) => {
          if (queue.has(conn)) drop(conn, error);
        },
      );
    };
    const acceptLoop = async () => {
      let backoff = EXHAUSTION_BACKOFF.first;
      while (!settled) {
        let conn: Deno.Conn;
        try {
          const accepted = listener.accept();
          accepting = accepted;
          conn = await accepted;
        } catch (error) {
          if (settled) return;
          accepting = undefined;
          if (isPeerGone(error)) {
            // The peer reset before it was accepted: it is gone, wait on.
            options.onRejected(undefined, error);
            continue;
          }
          if (isDescriptorExhaustion(error)) {
            // Temporary: the peer waits in the backlog. Free a descriptor
            // held by the least promising peer, let others close, retry.
            // A queue sized without a descriptor count (or one the program
            // outgrew) shrinks to what fitted.
            options.onExhausted?.();
            const victim = queue.leastProgressed();
            if (victim !== undefined) {
              drop(
                victim,
                new QueueFullError(
                  "dropped: out of file descriptors, the least advanced peer made room",
                ),
              );
            }
            if (options.queueSize === undefined) {
              queueSize = Math.max(MIN_QUEUE_SIZE, queue.size);
            }
            await pause(backoff);
            backoff = Math.min(backoff * 2, EXHAUSTION_BACKOFF.max);
            continue;
          }
          const failure = options.acceptError(error);
          finish(() => reject(failure));
          return;
        }
        accepting = undefined;
        backoff = EXHAUSTION_BACKOFF.first;
        if (settled) return closeQuietly(conn);
        if (
          options.allow !== undefined &&
          !isAllowed(conn.remoteAddr, options.allow)
        ) {
          drop(conn, new NotAllowedError("not in the allow list"));
          continue;
        }
        // Nothing to vet: the first peer wins (it is in no queue).
        if (options.vet === undefined) return finish(() => resolve(conn));
        admit(conn, options.vet);
      }
    };
    acceptLoop();
  });
}

/**
 * Tells `onRejectedPeer` about a peer turned away: its address (when it got
 * that far) and the reason in one line. A failing callback is ignored: it
 * must not end the wait for the counterpart.
 */
export function reportRejected(
  onRejectedPeer: (peer: RejectedPeer) => void,
  peer: Deno.Addr | undefined,
  error: unknown,
): void {
  let address: string | undefined;
  try {
    address = peer === undefined ? undefined : formatAddr(peer);
  } catch {
    address = undefined;
  }
  const reason = error instanceof Error ? error.message : String(error);
  try {
    onRejectedPeer({ address, reason, error });
  } catch {
    // Ignored: see above.
  }
}
