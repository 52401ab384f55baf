/**
 * One direction of the CLI's data path: {@linkcode pump} copies a source to a
 * sink, a reader task and a writer task sharing one ring buffer, so that
 * reading the next chunk overlaps writing the previous one, and every write
 * takes all the bytes gathered so far (a TLS read returns one 16 KiB record;
 * writing many records at once saves system calls). Nothing is held back
 * while the writer is idle, so interactive protocols never stall. A blocking
 * side (`readSync` behind a promise) is copied in a plain loop instead.
 *
 * @module
 */
/** Something to read bytes from: a `Deno.Conn`, `Deno.stdin`, a `Deno.FsFile`. */
export interface ByteSource {
  /** Reads into `buffer`; `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * The read blocks the thread (e.g. `readSync` behind a promise): a
   * {@linkcode pump} then copies in a plain loop, since reading cannot
   * overlap writing anyway.
   */
  readonly blocking?: boolean;
}

/** Something to write bytes to: a `Deno.Conn`, `Deno.stdout`, a `Deno.FsFile`. */
export interface ByteSink {
  /** Writes some of `buffer`; returns how many bytes were written. */
  write(buffer: Uint8Array): Promise<number>;
  /** The write blocks the thread (see {@linkcode ByteSource.blocking}). */
  readonly blocking?: boolean;
}

/** Which side of a {@linkcode pump} failed. */
export type PumpSide = "read" | "write";

/** A failure inside a {@linkcode pump}, telling whether reading or writing failed. */
export class PumpError extends Error {
  /** `"read"` or `"write"`. */
  readonly side: PumpSide;
  /** Bytes written to the sink before the failure. */
  readonly bytes: number;

  /**
   * @param side Which side failed.
   * @param bytes Bytes written before the failure.
   * @param cause The original error.
   */
  constructor(side: PumpSide, bytes: number, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "PumpError";
    this.side = side;
    this.bytes = bytes;
  }
}

/** Options of {@linkcode pump}. */
export interface PumpOptions {
  /** Ring buffer size in bytes (default 1 MiB). */
  bufferSize?: number;
  /** Largest single read (default 256 KiB). */
  readSize?: number;
  /** Called after each write with the number of bytes written. */
  onWrite?: (bytes: number) => void;
  /**
   * When this aborts, reading stops: the bytes already read are written and
   * the pump resolves (a pending read is abandoned and its bytes dropped).
   */
  stopReading?: AbortSignal;
}

/**
 * Copies `source` to `sink` until the source ends, reading and writing
 * concurrently through one ring buffer.
 *
 * @example Usage
 * ```ts
 * import { pump } from "./pump.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const chunks = [new Uint8Array([1, 2]), new Uint8Array([3])];
 * const source = {
 *   read(buffer: Uint8Array): Promise<number | null> {
 *     const chunk = chunks.shift();
 *     if (chunk === undefined) return Promise.resolve(null);
 *     buffer.set(chunk);
 *     return Promise.resolve(chunk.length);
 *   },
 * };
 * const received: number[] = [];
 * const sink = {
 *   write(buffer: Uint8Array): Promise<number> {
 *     received.push(...buffer);
 *     return Promise.resolve(buffer.length);
 *   },
 * };
 * assertEquals(await pump(source, sink), 3);
 * assertEquals(received, [1, 2, 3]);
 * ```
 *
 * @param source Where the bytes come from.
 * @param sink Where they go.
 * @param options Buffer sizes, a progress callback, a stop signal.
 * @returns The number of bytes written.
 * @throws {PumpError} When a read or a write fails; `side` says which.
 */
export function pump(
  source: ByteSource,
  sink: ByteSink,
  options: PumpOptions = {},
): Promise<number> {
  if (source.blocking || sink.blocking) {
    return copyInTurns(source, sink, options);
  }
  return new RingPump(source, sink, options).run();
}

/**
 * The state of one {@linkcode pump} through a ring buffer: the reader fills
 * `[tail, …)`, the writer drains `[head, tail)`, and each wakes the other.
 */
class RingPump {
  readonly #source: ByteSource;
  readonly #sink: ByteSink;
  readonly #onWrite: ((bytes: number) => void) | undefined;
  readonly #stop: AbortSignal | undefined;
  readonly #buffer: Uint8Array;
  readonly #readSize: number;
  #head = 0; // next byte to write
  #tail = 0; // next byte to fill
  #ended = false;
  #failed = false;
  #written = 0;
  // A failed read ends the input: what was read before it is still written,
  // then the pump rejects (never lose what arrived).
  #readFailure: { error: unknown } | undefined;
  #wakeWriter: (() => void) | undefined;
  #wakeReader: (() => void) | undefined;

  constructor(source: ByteSource, sink: ByteSink, options: PumpOptions) {
    this.#source = source;
    this.#sink = sink;
    this.#onWrite = options.onWrite;
    this.#stop = options.stopReading;
    const bufferSize = options.bufferSize ?? 1024 * 1024;
    this.#readSize = Math.min(options.readSize ?? 256 * 1024, bufferSize);
    this.#buffer = new Uint8Array(bufferSize);
  }

  /** Runs the reader and the writer; resolves with the bytes written. */
  run(): Promise<number> {
    const stop = this.#stop;
    const onStop = () => {
      this.#ended = true;
      this.#wake();
    };
    stop?.addEventListener("abort", onStop, { once: true });
    if (stop?.aborted) this.#ended = true;
    return new Promise<number>((resolve, reject) => {
      const fail = (error: unknown) => {
        if (this.#failed) return;
        this.#failed = true;
        stop?.removeEventListener("abort", onStop);
        this.#wake();
        reject(error);
      };
      this.#reader().catch(fail);
      this.#writer().then(() => {
        stop?.removeEventListener("abort", onStop);
        if (this.#failed) return;
        if (this.#readFailure !== undefined) {
          fail(new PumpError("read", this.#written, this.#readFailure.error));
        } else resolve(this.#written);
      }, fail);
    });
  }

  #wake(): void {
    this.#wakeWriter?.();
    this.#wakeReader?.();
  }

  /** Writes whatever is buffered, until the input ended and all is written. */
  async #writer(): Promise<void> {
    while (!this.#failed) {
      if (this.#head === this.#tail) {
        if (this.#ended) return;
        await new Promise<void>((resolve) => this.#wakeWriter = resolve);
        this.#wakeWriter = undefined;
        continue;
      }
      const head = this.#head;
      const end = this.#tail;
      let offset = head;
      try {
        while (offset < end) {
          offset += await this.#sink.write(this.#buffer.subarray(offset, end));
        }
      } catch (error) {
        this.#written += offset - head;
        throw new PumpError("write", this.#written, error);
      }
      this.#written += end - head;
      this.#onWrite?.(end - head);
      this.#head = end;
      this.#wakeReader?.();
    }
  }

  /** Reads into the free space until the input ends or the pump stops. */
  async #reader(): Promise<void> {
    const readSize = this.#readSize;
    while (!this.#ended && !this.#failed) {
      if (this.#head === this.#tail) {
        this.#head = this.#tail = 0; // empty: rewind (the writer is idle)
      } else if (this.#buffer.length - this.#tail < readSize) {
        await new Promise<void>((resolve) => this.#wakeReader = resolve);
        this.#wakeReader = undefined;
        continue;
      }
      const tail = this.#tail;
      let count: number | null;
      try {
        count = await this.#source.read(
          this.#buffer.subarray(tail, tail + readSize),
        );
      } catch (error) {
        if (!this.#ended) this.#endInput({ error });
        return;
      }
      if (this.#ended) return; // stopped meanwhile: these bytes are dropped
      if (count === null) return this.#endInput();
      this.#tail += count;
      this.#wakeWriter?.();
    }
  }

  /** The input ended (or failed): the writer drains what is left. */
  #endInput(failure?: { error: unknown }): void {
    this.#readFailure = failure;
    this.#ended = true;
    this.#wakeWriter?.();
  }
}

/**
 * The plain loop for a blocking side: read a chunk, write it all, again.
 * Measured with blocking stdio on loopback: 1.6× the ring buffer over TCP, as
 * fast over TLS.
 */
async function copyInTurns(
  source: ByteSource,
  sink: ByteSink,
  options: PumpOptions,
): Promise<number> {
  const buffer = new Uint8Array(options.readSize ?? 256 * 1024);
  let written = 0;
  while (!options.stopReading?.aborted) {
    let count: number | null;
    try {
      count = await source.read(buffer);
    } catch (error) {
      throw new PumpError("read", written, error);
    }
    if (count === null) break;
    let offset = 0;
    try {
      while (offset < count) {
        offset += await sink.write(buffer.subarray(offset, count));
      }
    } catch (error) {
      throw new PumpError("write", written + offset, error);
    }
    written += count;
    options.onWrite?.(count);
  }
  return written;
}

/** A sink that drops everything (for `--send-only`). */
export const discard: ByteSink = {
  write(buffer: Uint8Array): Promise<number> {
    return Promise.resolve(buffer.length);
  },
};
