/**
 * The CLI's data path: copies both directions of a connection at once, with
 * half-close, and tells a clean end from a truncated one.
 *
 * Each direction is a {@linkcode pump} (see `pump.ts`). Only
 * `read()`/`write()` are used on the connection: draining `conn.readable` to
 * its end would close the whole connection (denoland/deno#27510) and break
 * half-close. {@linkcode TransferCore} is what the plain transfer and the
 * confirmed one (`confirm.ts`) share: both directions at once, the abort
 * signal, and which side failed after how many bytes.
 *
 * @module
 */
import { reasonOf } from "./messages.ts";
import {
  type ByteSink,
  type ByteSource,
  discard,
  pump,
  PumpError,
} from "./pump.ts";

export {
  type ByteSink,
  type ByteSource,
  discard,
  pump,
  PumpError,
  type PumpOptions,
  type PumpSide,
} from "./pump.ts";

/** Options of {@linkcode transfer}. */
export interface TransferOptions {
  /** What is sent to the peer; `undefined` sends nothing (`--recv-only`). */
  input?: ByteSource;
  /** Where the peer's bytes go; `undefined` drops them (`--send-only`). */
  output?: ByteSink;
  /**
   * The input is a terminal: when the peer ends its stream, stop waiting for
   * more typing and finish.
   */
  interactiveInput?: boolean;
  /**
   * End our side (half-close) as soon as the input ends (default `true`).
   * `false` keeps it open until the peer has ended its stream, as `nc -d`
   * does: peers that stop sending at our end of stream (`nc -l`, `ncat -l`,
   * `openssl s_server`) then send everything. Without an input our side is
   * always ended after the peer's.
   */
  halfClose?: boolean;
  /**
   * An input that ends before its first byte counts as "nothing to send":
   * our side stays open until the peer has ended its own, as without an
   * input (default `false`; the CLI sets it for stdin with `--recv FILE`).
   */
  holdEmptyInput?: boolean;
  /** Called as bytes reach the peer. */
  onSent?: (bytes: number) => void;
  /** Called as the peer's bytes are written to the output. */
  onReceived?: (bytes: number) => void;
  /** Names for messages: the input, the output and the peer. */
  names?: { input?: string; output?: string; peer?: string };
  /** Ring buffer size per direction (default 1 MiB). */
  bufferSize?: number;
  /**
   * Aborts the transfer (a signal): both directions stop, the bytes already
   * received are written to the output, and the transfer rejects with a
   * {@linkcode TransferError} whose cause is `signal.reason`.
   */
  signal?: AbortSignal;
}

/** What a successful {@linkcode transfer} moved. */
export interface TransferResult {
  /** Bytes written to the peer. */
  sent: number;
  /** Bytes received from the peer and written to the output. */
  received: number;
}

/** A transfer that did not complete: network, TLS or I/O failure, or truncation. */
export class TransferError extends Error {
  /** Bytes written to the peer before the failure. */
  readonly sent: number;
  /** Bytes received from the peer and written to the output before the failure. */
  readonly received: number;
  /**
   * The output could not be written: the connection must be aborted (left
   * for the process exit to reset), never ended cleanly, so that the peer
   * cannot mistake the failure for a complete transfer.
   */
  readonly abort: boolean;

  /**
   * @param message What happened, in one line.
   * @param counts Bytes moved before the failure.
   * @param cause The original error.
   * @param abort Whether the connection must be aborted rather than closed.
   */
  constructor(
    message: string,
    counts: TransferResult,
    cause?: unknown,
    abort = false,
  ) {
    super(message, { cause });
    this.name = "TransferError";
    this.sent = counts.sent;
    this.received = counts.received;
    this.abort = abort;
  }
}

/** The names messages use: the input, the output and the peer. */
export type Names = Required<NonNullable<TransferOptions["names"]>>;

/** `1 byte`, `2 bytes`. */
export function formatByteCount(bytes: number): string {
  return `${bytes} byte${bytes === 1 ? "" : "s"}`;
}

/** The message for a failure while receiving, from the side that failed. */
function receiveFailure(
  cause: unknown,
  counts: TransferResult,
  names: Names,
  sending: boolean,
): string {
  const received = formatByteCount(counts.received);
  if (cause instanceof Deno.errors.UnexpectedEof) {
    // A peer that only received from us and then failed or was killed ends
    // the TLS connection without close_notify: say so in our direction.
    if (sending && counts.received === 0) {
      return `${names.peer} closed the connection without ending its TLS stream (no close_notify) after ${
        formatByteCount(counts.sent)
      } were sent to it: it failed or was stopped, so they may not all have been received`;
    }
    return `The TLS stream from ${names.peer} ended without close_notify after ${received}: the transfer is truncated (all ${received} received were written to ${names.output})`;
  }
  if (sending && counts.received === 0) {
    return `The connection to ${names.peer} failed after ${
      formatByteCount(counts.sent)
    } were sent: ${reasonOf(cause)}; not every byte is known to be delivered`;
  }
  return receivingFailed(cause, counts, names);
}

/** The message for a failure while receiving, with no side to blame. */
export function receivingFailed(
  cause: unknown,
  counts: TransferResult,
  names: Names,
): string {
  return `Receiving from ${names.peer} failed after ${
    formatByteCount(counts.received)
  } (all written to ${names.output}): ${reasonOf(cause)}`;
}

/**
 * The error for a failed receive: the output could not be written (the
 * connection is then aborted), or reading from the peer failed.
 */
function receiveError(
  error: unknown,
  counts: TransferResult,
  names: Names,
  sending: boolean,
): TransferError {
  const cause = error instanceof PumpError ? error.cause : error;
  if (error instanceof PumpError && error.side === "write") {
    return new TransferError(
      `Cannot write ${names.output} after ${
        formatByteCount(counts.received)
      }: ${
        reasonOf(cause)
      }; the connection is aborted so that ${names.peer} sees a failure`,
      counts,
      cause,
      true,
    );
  }
  return new TransferError(
    receiveFailure(cause, counts, names, sending),
    counts,
    cause,
  );
}

/**
 * Makes `fail` run with an "Interrupted" {@linkcode TransferError} (the
 * counts so far, the signal's reason) when `signal` aborts, or at once when
 * it already has. Disposing detaches it.
 */
function failOnAbort(
  signal: AbortSignal | undefined,
  counts: TransferResult,
  fail: (error: TransferError) => void,
): Disposable {
  if (signal === undefined) return { [Symbol.dispose]() {} };
  const onAbort = () =>
    fail(
      new TransferError(
        `Interrupted (${reasonOf(signal.reason)})`,
        counts,
        signal.reason,
      ),
    );
  signal.addEventListener("abort", onAbort, { once: true });
  if (signal.aborted) onAbort();
  return {
    [Symbol.dispose]: () => signal.removeEventListener("abort", onAbort),
  };
}

/**
 * The error for a failed send: the input could not be read, or writing to
 * the peer failed after the bytes counted so far.
 */
function sendFailure(
  error: unknown,
  counts: TransferResult,
  names: Names,
): TransferError {
  const cause = error instanceof PumpError ? error.cause : error;
  return new TransferError(
    error instanceof PumpError && error.side === "read"
      ? `Cannot read ${names.input}: ${reasonOf(cause)}`
      : `Sending to ${names.peer} failed after ${
        formatByteCount(counts.sent)
      }: ${reasonOf(cause)}; not every byte was delivered`,
    counts,
    cause,
  );
}

/** The names messages use, with their defaults ("the input", …). */
function namesOf(
  names: TransferOptions["names"],
): Names {
  return {
    input: names?.input ?? "the input",
    output: names?.output ?? "the output",
    peer: names?.peer ?? "the peer",
  };
}

/**
 * Copies both directions between the input/output and `conn` at once. When
 * the input ends, the write side of `conn` is half-closed (`closeWrite()`,
 * which also sends TLS close_notify) and the peer's bytes keep flowing until
 * the peer ends its stream. Resolves only when every input byte was written
 * to the peer and the peer's stream ended cleanly; the caller closes `conn`.
 * On any failure every byte already read from the peer is written to the
 * output before the transfer rejects.
 *
 * @example Usage
 * ```ts
 * import { transfer } from "./copy.ts";
 * import { assertEquals } from "@std/assert";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const server = (async () => {
 *   using conn = await listener.accept();
 *   const buffer = new Uint8Array(16);
 *   while (await conn.read(buffer) !== null) {} // until our half-close
 *   await conn.write(new TextEncoder().encode("bye"));
 * })();
 * using conn = await Deno.connect({
 *   hostname: "127.0.0.1",
 *   port: listener.addr.port,
 * });
 * let done = false;
 * const input = {
 *   read(buffer: Uint8Array): Promise<number | null> {
 *     if (done) return Promise.resolve(null);
 *     done = true;
 *     buffer.set([104, 105]); // "hi"
 *     return Promise.resolve(2);
 *   },
 * };
 * const received: number[] = [];
 * const output = {
 *   write(buffer: Uint8Array): Promise<number> {
 *     received.push(...buffer);
 *     return Promise.resolve(buffer.length);
 *   },
 * };
 * assertEquals(await transfer(conn, { input, output }), { sent: 2, received: 3 });
 * assertEquals(new TextDecoder().decode(new Uint8Array(received)), "bye");
 * await server;
 * ```
 *
 * @param conn The connection; it stays open (the caller closes it, or
 * leaves it to the process exit when the error says `abort`).
 * @param options The input, the output, half-close policy, callbacks, names.
 * @returns The bytes moved each way.
 * @throws {TransferError} On any failure, with a one-line message naming the
 * direction and the bytes moved; the cause is the original error.
 */
export function transfer(
  conn: Deno.Conn,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const core = new TransferCore(conn, options);
  return core.run(
    () => sendThenEnd(core, conn, options),
    () =>
      core.receive(
        conn,
        options.output ?? discard,
        (error) =>
          receiveError(
            error,
            core.counts,
            core.names,
            options.input !== undefined,
          ),
        core.countReceived,
      ),
  );
}

/**
 * The plain transfer's sending direction: the input, then our end of
 * stream (`closeWrite()`), held until the peer's end when asked to.
 */
async function sendThenEnd(
  core: TransferCore,
  conn: Deno.Conn,
  options: TransferOptions,
): Promise<void> {
  if (!await core.send(conn)) return;
  const hold = options.input === undefined ||
    options.halfClose === false ||
    (options.holdEmptyInput === true && core.counts.sent === 0);
  // Never end our side before the peer has ended its own: senders such as
  // nc -l stop at our end of stream.
  if (hold) await core.peerEnd;
  if (core.failed) return;
  try {
    await conn.closeWrite();
  } catch (error) {
    if (core.failed || hold) return;
    throw new TransferError(
      `Ending the stream to ${core.names.peer} failed after ${
        formatByteCount(core.counts.sent)
      }: ${reasonOf(error)}`,
      core.counts,
      error,
    );
  }
}

/**
 * What the plain and the confirmed transfer share: both directions run at
 * once, the first failure wins and stops the rest, an abort signal
 * interrupts, and the counts say what moved when it stopped. Each transfer
 * supplies its directions ({@linkcode TransferCore.run}), built on
 * {@linkcode TransferCore.send} and {@linkcode TransferCore.receive}.
 */
export class TransferCore {
  /** Bytes moved so far, each way. */
  readonly counts: TransferResult = { sent: 0, received: 0 };
  /** The names messages use. */
  readonly names: Names;
  /** Resolves when the peer's stream ended, or the transfer failed. */
  readonly peerEnd: Promise<void>;
  readonly #conn: Deno.Conn;
  readonly #options: TransferOptions;
  readonly #stopReading = new AbortController();
  #peerEnded!: () => void;
  #failure: { error: unknown } | undefined;
  #aborted = false;
  #abandon!: () => void;
  readonly #abandoned: Promise<void>;

  /**
   * @param conn The connection; it is closed on a failure, or left to the
   * process exit when the failure says `abort`.
   * @param options The input, the output, callbacks, names, the signal.
   */
  constructor(conn: Deno.Conn, options: TransferOptions) {
    this.#conn = conn;
    this.#options = options;
    this.names = namesOf(options.names);
    this.peerEnd = new Promise((resolve) => this.#peerEnded = resolve);
    this.#abandoned = new Promise((resolve) => this.#abandon = resolve);
  }

  /** Whether the transfer has failed (or was interrupted). */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Counts bytes that reached the peer. */
  readonly countSent = (bytes: number): void => {
    this.counts.sent += bytes;
    this.#options.onSent?.(bytes);
  };

  /** Counts bytes of the peer's written to the output. */
  readonly countReceived = (bytes: number): void => {
    this.counts.received += bytes;
    this.#options.onReceived?.(bytes);
  };

  /** Stops reading the input (what was read is still sent). */
  stopInput(): void {
    this.#stopReading.abort();
  }

  /**
   * Fails the transfer with `error` unless it failed already: both
   * directions stop and the connection is closed, or abandoned to the
   * process exit when the error says `abort`.
   */
  readonly fail = (error: unknown): void => {
    this.#failure ??= { error };
    this.#stopReading.abort();
    this.#peerEnded();
    if (error instanceof TransferError && error.abort) {
      // Leave the socket to the process exit: no FIN, no close_notify
      // written by us; unread data makes the system reset it.
      this.#aborted = true;
      this.#abandon(); // a write to a peer that stopped reading may never settle
      return;
    }
    if (!this.#aborted) {
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    }
  };

  /**
   * Copies the input (if any) into `sink`, counting what is sent.
   *
   * @returns `false` when the transfer failed meanwhile.
   * @throws {TransferError} When reading the input or sending failed.
   */
  async send(sink: ByteSink): Promise<boolean> {
    const input = this.#options.input;
    if (input !== undefined) {
      try {
        await pump(input, sink, {
          bufferSize: this.#options.bufferSize,
          stopReading: this.#stopReading.signal,
          onWrite: this.countSent,
        });
      } catch (error) {
        if (this.failed) return false;
        throw sendFailure(error, this.counts, this.names);
      }
    }
    return !this.failed;
  }

  /**
   * Copies the peer's bytes from `source` into `sink` up to the peer's end
   * of stream; then a terminal input stops waiting for typing.
   *
   * @param toError The error for a failure of the copy.
   * @param onWrite Counts what was written, unless `sink` does.
   * @returns The bytes copied, or `undefined` when the transfer failed.
   */
  async receive(
    source: ByteSource,
    sink: ByteSink,
    toError: (error: unknown) => TransferError,
    onWrite?: (bytes: number) => void,
  ): Promise<number | undefined> {
    let arrived: number;
    try {
      arrived = await pump(source, sink, {
        bufferSize: this.#options.bufferSize,
        onWrite,
      });
    } catch (error) {
      if (this.failed) return undefined;
      throw toError(error);
    }
    this.#peerEnded();
    // The peer ended its stream. A terminal will not end on its own: stop
    // waiting for typing (what was typed so far is still sent).
    if (this.#options.interactiveInput) this.#stopReading.abort();
    return arrived;
  }

  /**
   * Runs both directions at once, then `finish` if nothing failed, with the
   * abort signal attached.
   *
   * @returns The counts, when nothing failed.
   * @throws The first failure: a {@linkcode TransferError} with the counts
   * when both directions stopped, or whatever else failed first.
   */
  async run(
    send: () => Promise<void>,
    receive: () => Promise<unknown>,
    finish?: () => Promise<void>,
  ): Promise<TransferResult> {
    {
      using _interrupt = failOnAbort(
        this.#options.signal,
        this.counts,
        this.fail,
      );
      await Promise.race([
        Promise.all([this.#settle(send()), this.#settle(receive())]),
        this.#abandoned,
      ]);
      if (finish !== undefined && !this.failed) await this.#settle(finish());
    }
    if (this.#failure === undefined) return { ...this.counts };
    const error = this.#failure.error;
    if (!(error instanceof TransferError)) throw error;
    // The counts when both directions stopped: every received byte is
    // written by now.
    throw new TransferError(
      error.message,
      this.counts,
      error.cause,
      error.abort,
    );
  }

  async #settle(task: Promise<unknown>): Promise<void> {
    try {
      await task;
    } catch (error) {
      this.fail(error);
    }
  }
}
