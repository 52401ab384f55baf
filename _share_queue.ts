/**
 * The passive side's share computations under a flood of hellos. Answering a
 * hello costs a hash-to-curve and a scalar multiplication (about 0.6 ms of the
 * one JS thread); a flooder that sends a well-formed hello and closes costs
 * nothing itself. So the listener reads and queues every hello first and
 * computes one share at a time, between turns of the event loop:
 *
 * - a peer's connection is **read ahead** as soon as its hello is queued: a
 *   peer that closed (or reset) after its hello is turned away before
 *   anything is computed for it; the bytes read ahead, if any, are the first
 *   bytes of its share and go to the exchange's next read;
 * - a hello becomes eligible {@linkcode READ_AHEAD_GRACE} ms after it was
 *   queued (or as soon as its read ahead settles), so that a close that came
 *   with the hello is seen first; a peer found gone leaves the queue at once;
 *   only the first hello in {@linkcode CALM_AFTER} ms, finding the queue
 *   idle, is answered without waiting;
 * - the **newest** eligible hello is answered first: a real counterpart that
 *   arrives during a flood is answered at the next turn, whatever the backlog;
 * - at most {@linkcode MAX_WAITING_HELLOS} hellos wait: beyond, the oldest is
 *   told {@linkcode OVERLOAD_NOTICE} and closed, so memory stays bounded and
 *   the peer knows why.
 *
 * The exchange (`auth.ts`) asks for its turn with {@linkcode computeShare}; a
 * connection without a queue (the active side, `authenticate()` used alone)
 * computes at once. The design and its measurements are in docs/vetting.md.
 *
 * @module
 */
import { withRead } from "./_io.ts";

/**
 * What the passive side writes, instead of its hello, to a peer whose hello it
 * turned away for want of time: the active side reports that the listener is
 * overloaded. Plain text, so that an older client shows it as it is.
 */
export const OVERLOAD_NOTICE: Uint8Array = new TextEncoder().encode(
  "@transfer/connect: overloaded\n",
);
/** Hellos waiting for their share at most (each holds a connection). */
export const MAX_WAITING_HELLOS = 256;
/** Milliseconds a queued hello waits for its read ahead before it is eligible. */
export const READ_AHEAD_GRACE = 1;
/**
 * Milliseconds since the previous hello after which a hello that finds the
 * queue idle is answered at once, without the grace: the first hello in a
 * while is no flood.
 */
export const CALM_AFTER = 50;
/** Bytes read ahead: the peer's next frame is its share, 32 bytes. */
const READ_AHEAD_BYTES = 32;

/**
 * A peer's connection as seen by the secret exchange: reads pass through,
 * except that one read may be started ahead of the caller's (its bytes are
 * served to the next reads), and the first read that returns bytes calls
 * `onFirstBytes`.
 */
export class PeerReader {
  /** The connection to hand to the exchange (reads go through this reader). */
  readonly conn: Deno.Conn;
  readonly #target: Deno.Conn;
  #onFirstBytes: (() => void) | undefined;
  #pending: Promise<Uint8Array | null> | undefined;
  #leftover: Uint8Array | undefined;
  #settled = false;
  #gone = false;
  /** Called once when the read ahead settles; set by the queue. */
  onSettled: (() => void) | undefined;

  constructor(target: Deno.Conn, onFirstBytes?: () => void) {
    this.#target = target;
    this.#onFirstBytes = onFirstBytes;
    this.conn = withRead(target, (buffer) => this.#read(buffer));
  }

  /** The connection itself. */
  get target(): Deno.Conn {
    return this.#target;
  }

  /** Whether the read ahead has settled (bytes, end of stream or error). */
  get settled(): boolean {
    return this.#settled;
  }

  /** Whether the read ahead found the stream ended or broken. */
  get gone(): boolean {
    return this.#gone;
  }

  /** Starts a read now, kept for the next read of the exchange. */
  readAhead(): void {
    if (this.#pending !== undefined || this.#leftover !== undefined) return;
    const buffer = new Uint8Array(READ_AHEAD_BYTES);
    const pending = this.#target.read(buffer).then(
      (count) => {
        this.#settled = true;
        if (count === null) this.#gone = true;
        this.onSettled?.();
        return count === null ? null : buffer.subarray(0, count);
      },
      (error) => {
        this.#settled = true;
        this.#gone = true;
        this.onSettled?.();
        throw error;
      },
    );
    pending.catch(() => {}); // surfaces at the next read, if any
    this.#pending = pending;
  }

  async #read(buffer: Uint8Array): Promise<number | null> {
    let count: number | null;
    if (this.#pending !== undefined) {
      const pending = this.#pending;
      this.#pending = undefined;
      const bytes = await pending;
      if (bytes === null) return null;
      this.#leftover = bytes;
    }
    if (this.#leftover !== undefined) {
      count = Math.min(buffer.length, this.#leftover.length);
      buffer.set(this.#leftover.subarray(0, count));
      this.#leftover = count < this.#leftover.length
        ? this.#leftover.subarray(count)
        : undefined;
    } else {
      count = await this.#target.read(buffer);
    }
    if (count !== null && count > 0 && this.#onFirstBytes !== undefined) {
      const onFirstBytes = this.#onFirstBytes;
      this.#onFirstBytes = undefined;
      onFirstBytes();
    }
    return count;
  }
}

/** A hello waiting for its share. */
interface Waiting {
  peer: PeerReader;
  queued: number;
  start(): void;
  fail(error: unknown): void;
}

/** How a {@linkcode ShareQueue} is bounded. */
export interface ShareQueueOptions {
  /** Hellos that may wait at once; default {@linkcode MAX_WAITING_HELLOS}. */
  capacity?: number;
}

/**
 * The hellos of one listener waiting for their share, answered one at a
 * time, newest first (see the module's documentation).
 */
export class ShareQueue {
  readonly capacity: number;
  /** Insertion order: oldest first. */
  #waiting = new Map<Deno.Conn, Waiting>();
  #busy = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** When the last hello was queued. */
  #lastHello = -Infinity;

  constructor(options: ShareQueueOptions = {}) {
    this.capacity = options.capacity ?? MAX_WAITING_HELLOS;
  }

  /** Hellos waiting now. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Whether `conn`'s hello is waiting for its share. */
  has(conn: Deno.Conn): boolean {
    return this.#waiting.has(conn);
  }

  /**
   * Runs `compute` (the share for `peer`'s hello) when its turn comes.
   * Rejects without computing when the peer left after its hello, when it
   * was turned away for want of room (after being told so), or when
   * `signal` aborts.
   */
  run<T>(
    peer: PeerReader,
    compute: () => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    if (this.#closed || signal.aborted) {
      return Promise.reject(signal.reason ?? new Deno.errors.Interrupted());
    }
    peer.readAhead();
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (this.#waiting.get(peer.target) !== waiting) return;
        this.#waiting.delete(peer.target);
        reject(signal.reason);
      };
      const waiting: Waiting = {
        peer,
        queued: performance.now(),
        start: () => {
          signal.removeEventListener("abort", onAbort);
          this.#busy = true;
          let computing: Promise<T>;
          try {
            computing = compute();
          } catch (error) {
            computing = Promise.reject(error);
          }
          computing.then(resolve, reject).finally(() => {
            this.#busy = false;
            this.#schedule(0);
          });
        },
        fail: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const calm = waiting.queued - this.#lastHello > CALM_AFTER;
      this.#lastHello = waiting.queued;
      if (peer.gone) return this.#failGone(waiting);
      // The first hello in a while, nothing waiting: answer at once.
      const idle = !this.#busy && this.#waiting.size === 0;
      if (calm && idle && this.capacity > 0) {
        return waiting.start();
      }
      peer.onSettled = () => {
        if (peer.gone && this.#waiting.get(peer.target) === waiting) {
          this.#waiting.delete(peer.target);
          this.#failGone(waiting);
        } else if (this.#waiting.get(peer.target) === waiting) {
          this.#schedule(0);
        }
      };
      this.#waiting.set(peer.target, waiting);
      while (this.#waiting.size > this.capacity) {
        this.#turnAway(
          this.#waiting.keys().next().value!,
          new Deno.errors.Busy(
            `dropped: overloaded, more than ${this.capacity} hellos were waiting for an answer (it was told so)`,
          ),
        );
      }
      this.#schedule(0);
    });
  }

  /**
   * Takes `conn`'s hello out of the queue, tells the peer the listener is
   * overloaded, and rejects its exchange with `reason` once told. Returns
   * whether the hello was waiting; the caller closes `conn` after the
   * returned promise.
   */
  withdraw(conn: Deno.Conn, reason: unknown): Promise<void> | undefined {
    if (!this.#waiting.has(conn)) return undefined;
    return this.#turnAway(conn, reason);
  }

  /** Stops answering: every waiting hello fails with `reason`. */
  close(reason: unknown): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiting of this.#waiting.values()) waiting.fail(reason);
    this.#waiting.clear();
  }

  #failGone(waiting: Waiting): void {
    waiting.fail(
      new Deno.errors.ConnectionReset(
        "dropped: it closed the connection after its hello, before the answer",
      ),
    );
  }

  #turnAway(conn: Deno.Conn, reason: unknown): Promise<void> {
    const waiting = this.#waiting.get(conn)!;
    this.#waiting.delete(conn);
    const told = conn.write(OVERLOAD_NOTICE).then(() => {}, () => {});
    told.then(() => waiting.fail(reason));
    return told;
  }

  /** Plans the next turn in `ms` (or keeps an earlier plan). */
  #schedule(ms: number): void {
    if (this.#closed || this.#busy || this.#timer !== undefined) return;
    if (this.#waiting.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#turn();
    }, ms);
  }

  /** Turns away the peers that left; answers the newest eligible hello. */
  #turn(): void {
    if (this.#closed || this.#busy) return;
    const now = performance.now();
    let chosen: Waiting | undefined;
    let nextEligible = Infinity;
    for (const [conn, waiting] of this.#waiting) {
      const { peer } = waiting;
      if (peer.gone) {
        this.#waiting.delete(conn);
        this.#failGone(waiting);
        continue;
      }
      const eligibleAt = peer.settled
        ? waiting.queued
        : waiting.queued + READ_AHEAD_GRACE;
      if (eligibleAt <= now) chosen = waiting;
      else nextEligible = Math.min(nextEligible, eligibleAt);
    }
    if (chosen !== undefined) {
      this.#waiting.delete(chosen.peer.target);
      chosen.start();
    } else if (nextEligible !== Infinity) {
      this.#schedule(Math.max(1, Math.ceil(nextEligible - now)));
    }
  }
}

/** The queue each reader's share computation waits in (set by `_accept.ts`). */
const queues = new WeakMap<
  Deno.Conn,
  { queue: ShareQueue; peer: PeerReader; signal: AbortSignal }
>();

/** Makes the exchange on `peer.conn` wait for its turn in `queue`. */
export function useShareQueue(
  peer: PeerReader,
  queue: ShareQueue,
  signal: AbortSignal,
): void {
  queues.set(peer.conn, { queue, peer, signal });
}

/**
 * Computes this side's share for the exchange on `conn`: at once, or, for a
 * peer of a listener's vetting queue, when its turn comes.
 */
export function computeShare<T>(
  conn: Deno.Conn,
  compute: () => Promise<T>,
): Promise<T> {
  const entry = queues.get(conn);
  if (entry === undefined) return compute();
  return entry.queue.run(entry.peer, compute, entry.signal);
}
