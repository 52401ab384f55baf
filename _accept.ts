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
  return await authenticate(peer.conn, {
    role: "passive",
    secret: options.secret,
    signal: scope.signal,
    confirm: options.confirmDelivery,
    encrypt: options.encrypt,
  });
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
  return new CounterpartSearch(options).run();
}

/** How a search for the counterpart ended. */
type Outcome = { conn: Deno.Conn } | { error: unknown };

/**
 * One wait for the counterpart: an accept loop that admits peers into
 * vetting, and the vetting that ends it. The outcome is decided by whichever
 * comes first (a peer that passes, an abort, an accept that fails for good);
 * it is reported once the loop has stopped, that is once no accept is in
 * flight: only then is the listening socket really closed.
 */
class CounterpartSearch {
  readonly #options: AcceptOptions;
  /** The peers in vetting: made with the first one (a plain wait needs none). */
  #vetting: VettingQueue | undefined;
  /** The hellos waiting for an answer: made with the first peer in vetting. */
  #shares: ShareQueue | undefined;
  /** Milliseconds a silent peer keeps while the queue is under pressure. */
  readonly #silentTime: number;
  // Sized once enough peers are in vetting for the size to matter: counting
  // the descriptors reads /proc (85–300 µs), more than a whole TCP pair.
  #queueSize: number | undefined;
  #counted = 0; // set by the first count, which needs no interval
  #outcome: Outcome | undefined;
  #released = false;
  /** Ends the backoff pause in progress, if any. */
  #wake: (() => void) | undefined;

  constructor(options: AcceptOptions) {
    this.#options = options;
    this.#silentTime = Math.min(
      options.handshakeTimeout ?? Infinity,
      SILENT_TIME_UNDER_PRESSURE,
    );
    this.#queueSize = options.queueSize;
  }

  /** Accepts until the outcome is decided, then releases everything and reports it. */
  async run(): Promise<Deno.Conn> {
    this.#options.signal.addEventListener("abort", this.#onAbort);
    let outcome: Outcome;
    try {
      outcome = await this.#acceptUntilDecided();
    } finally {
      this.#release();
    }
    if ("error" in outcome) throw outcome.error;
    return outcome.conn;
  }

  #onAbort = () => this.#decide({ error: this.#options.signal.reason });

  /** Settles the search (the first call wins) and releases everything at once. */
  #decide(outcome: Outcome): void {
    if (this.#released) return;
    this.#outcome = outcome;
    this.#release();
  }

  /** Closes the listener, the share queue and every candidate; stops the pause. Idempotent. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#options.signal.removeEventListener("abort", this.#onAbort);
    this.#options.closeListener();
    this.#shares?.close(
      new Deno.errors.Interrupted("the wait for a counterpart ended"),
    );
    const vetting = this.#vetting;
    if (vetting !== undefined) {
      for (const conn of vetting) closeQuietly(conn);
      vetting.clear();
    }
    this.#wake?.();
  }

  get #queue(): VettingQueue {
    return this.#vetting ??= new VettingQueue();
  }

  /** Accepts peers and passes each on until the outcome is decided, and returns it. */
  async #acceptUntilDecided(): Promise<Outcome> {
    let backoff = EXHAUSTION_BACKOFF.first;
    while (true) {
      if (this.#outcome !== undefined) return this.#outcome;
      let conn: Deno.Conn;
      try {
        conn = await this.#options.listener.accept();
      } catch (error) {
        if (this.#released) continue;
        if (isPeerGone(error)) {
          // The peer reset before it was accepted: it is gone, wait on.
          this.#options.onRejected(undefined, error);
        } else if (isDescriptorExhaustion(error)) {
          await this.#makeRoom(backoff);
          backoff = Math.min(backoff * 2, EXHAUSTION_BACKOFF.max);
        } else {
          this.#decide({ error: this.#options.acceptError(error) });
        }
        continue;
      }
      backoff = EXHAUSTION_BACKOFF.first;
      if (this.#released) closeQuietly(conn);
      else this.#consider(conn);
    }
  }

  /** Turns away a peer outside the allow list, hands over or vets the others. */
  #consider(conn: Deno.Conn): void {
    const { allow, vet } = this.#options;
    if (allow !== undefined && !isAllowed(conn.remoteAddr, allow)) {
      this.#turnAway(conn, new NotAllowedError("not in the allow list"));
    } else if (vet === undefined) {
      this.#decide({ conn }); // nothing to vet: the first peer wins (in no queue)
    } else {
      this.#admit(conn, vet);
    }
  }

  /** Puts a peer into vetting, making room first, and starts its checks. */
  #admit(conn: Deno.Conn, vet: NonNullable<AcceptOptions["vet"]>): void {
    const now = performance.now();
    // With fewer than half of MIN_QUEUE_SIZE peers in vetting, shedding
    // drops nobody whatever the count: no count, no shedding.
    const pressure = this.#options.queueSize !== undefined ||
      (this.#queue.size + 1) * 2 >= MIN_QUEUE_SIZE;
    const size = pressure ? this.#sizeAt(now) : undefined;
    this.#queue.add(conn, now);
    if (size !== undefined) this.#shed(now, size);
    if (!this.#queue.has(conn)) return;
    this.#shares ??= new ShareQueue({
      capacity: this.#options.waitingHellos,
    });
    shareQueues.set(conn, this.#shares);
    vet(
      conn,
      this.#options.signal,
      (level) => this.#queue.promote(conn, level, performance.now()),
    ).then(
      () => this.#handOver(conn),
      (error) => {
        if (this.#queue.has(conn)) this.#turnAway(conn, error);
      },
    );
  }

  /** Makes the peer that passed the counterpart, unless it was dropped meanwhile. */
  #handOver(conn: Deno.Conn): void {
    // A peer dropped (and closed) while its last check was completing
    // must not win: it is closed and already counted.
    if (this.#released || !this.#queue.has(conn)) return;
    this.#queue.delete(conn);
    this.#decide({ conn });
  }

  /** Closes a peer (once told why, if its hello waits for an answer) and reports it. */
  #turnAway(conn: Deno.Conn, reason: unknown): void {
    this.#queue.delete(conn);
    // A peer whose hello waits for its answer is told why it goes.
    const told = this.#shares?.withdraw(conn, reason);
    if (told === undefined) closeQuietly(conn);
    else told.then(() => closeQuietly(conn));
    this.#options.onRejected(conn.remoteAddr, reason);
  }

  /** Turns away the peer that has shown the least progress; false if none is left. */
  #turnAwayLeastProgressed(reason: unknown): boolean {
    const victim = this.#queue.leastProgressed();
    if (victim === undefined) return false;
    this.#turnAway(victim, reason);
    return true;
  }

  /**
   * The queue's size: as given, or from the descriptors, counted again at
   * most every {@linkcode RECOUNT_INTERVAL} ms.
   */
  #sizeAt(now: number): number {
    if (this.#options.queueSize !== undefined) return this.#options.queueSize;
    if (
      this.#queueSize === undefined || now - this.#counted >= RECOUNT_INTERVAL
    ) {
      this.#counted = now;
      this.#queueSize = queueSizeFromDescriptors(this.#queue.size);
    }
    return this.#queueSize;
  }

  /** Makes room: silent peers past their time under pressure, then the least progressed. */
  #shed(now: number, size: number): void {
    if (this.#queue.size * 2 >= size) {
      for (const conn of [...this.#queue.silentSince(now - this.#silentTime)]) {
        this.#turnAway(
          conn,
          new Deno.errors.TimedOut(
            "dropped: silent while the queue of peers in vetting was under pressure",
          ),
        );
      }
    }
    while (this.#queue.size > size) {
      const full = new QueueFullError(
        `dropped: more than ${size} peers were being vetted at once`,
      );
      if (!this.#turnAwayLeastProgressed(full)) break;
    }
  }

  /**
   * After an accept failed for want of descriptors (temporary: the peer
   * waits in the backlog): frees a descriptor held by the least promising
   * peer and pauses `backoff` ms to let others close. A queue sized without
   * a descriptor count (or one the program outgrew) shrinks to what fitted.
   */
  async #makeRoom(backoff: number): Promise<void> {
    this.#options.onExhausted?.();
    this.#turnAwayLeastProgressed(
      new QueueFullError(
        "dropped: out of file descriptors, the least advanced peer made room",
      ),
    );
    if (this.#options.queueSize === undefined) {
      this.#queueSize = Math.max(MIN_QUEUE_SIZE, this.#queue.size);
    }
    await this.#pause(backoff);
  }

  /** Resolves after `ms`, or at once when the search ends. */
  #pause(ms: number): Promise<void> {
    return new Promise<void>((done) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        done();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        done();
      };
    });
  }
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
