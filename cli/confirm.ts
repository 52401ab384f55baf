/**
 * Confirmed delivery between two `connect` CLIs (`--confirm` on both sides):
 * after the sender's end of data, the receiver writes everything (and syncs
 * a `--recv` file to disk), then answers with the byte count and the SHA-256
 * of what it wrote; the sender succeeds only on a matching answer. A receiver
 * that cannot write answers with the failure.
 *
 * The wire, used only once both sides asked for it:
 *
 * - a 16-byte request from the connecting side, answered with the same 16
 *   bytes by the listening side, which never writes a byte unless it got the
 *   request (so a listener without `--confirm` is the only peer that can see
 *   a stray byte: the request);
 * - then, each way, frames of `type (1 byte) | length (4 bytes, big-endian) |
 *   payload`: `DATA` frames, one `END` (8-byte count), and, for the other
 *   direction's data, one `OK` (8-byte count, 32-byte SHA-256) or `FAILED`
 *   (8-byte count, UTF-8 reason) answer; then the TCP (or TLS) end of stream.
 *
 * Hashing uses `node:crypto` (native SHA-256, about 1.5 GB/s here) after each
 * write completes, while the next read is in flight.
 *
 * Over an encrypted stream (a code or secret, `EncryptedConn`) the frames
 * travel inside authenticated records that arrive complete, in order and
 * unchanged, or not at all, up to the authenticated end record: the count
 * says everything a digest would, so `digest: false` hashes nothing and the
 * `OK` answer carries the 8-byte count alone.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { reasonOf } from "./messages.ts";
import { readUpTo, writeAll } from "../internal.ts";
import {
  type ByteSink,
  type ByteSource,
  discard,
  formatByteCount,
  PumpError,
  receivingFailed,
  TransferCore,
  TransferError,
  type TransferOptions,
  type TransferResult,
} from "./copy.ts";

/** The request and its answer: 16 bytes nobody sends by accident. */
export const CONFIRM_HELLO: Uint8Array = new TextEncoder().encode(
  "\0transfer-cfm/1\n",
);

const FRAME_DATA = 1;
const FRAME_END = 2;
const FRAME_OK = 3;
const FRAME_FAILED = 4;
const HEADER = 5;
const MAX_CONTROL = 4096;
const MAX_DATA = 1 << 24;

/** What a confirmed transfer moved, with the SHA-256 of each direction. */
export interface ConfirmedResult extends TransferResult {
  /**
   * SHA-256 (hex) of the bytes sent, as the peer confirmed writing them;
   * absent with `digest: false` (the records vouch for them).
   */
  sentSha256?: string;
  /** SHA-256 (hex) of the bytes received and written to the output. */
  receivedSha256?: string;
}

/** Options of {@linkcode confirmedTransfer}. */
export interface ConfirmOptions extends TransferOptions {
  /** Makes the output durable before answering (`FsFile.sync` for `--recv FILE`). */
  sync?: () => Promise<void>;
  /**
   * `false` over a stream that authenticates every byte in order (an
   * `EncryptedConn`): the answer confirms the count alone, nothing is
   * hashed. Default `true`: the count and SHA-256 each way.
   */
  digest?: boolean;
}

/** The peer's answer about the bytes we sent. */
interface Answer {
  ok: boolean;
  count: number;
  sha256: string;
  reason: string;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

function encodeCount(count: number, extra = 0): Uint8Array {
  const bytes = new Uint8Array(8 + extra);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(count));
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length &&
    a.every((byte, index) => byte === b[index]);
}

/** Races `task` with a timer; the loser is left to settle on its own. */
function withTimeout<T>(task: Promise<T>, milliseconds: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Deno.errors.TimedOut(`${milliseconds} ms`)),
      milliseconds,
    );
  });
  task.catch(() => {});
  return Promise.race([task, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Checks that the peer asked for confirmation too. The connecting side
 * (`"active"`) sends the request and waits for the answer; the listening
 * side waits for the request and only then answers.
 *
 * @param conn The connection, before any data.
 * @param role `"active"` (connect) or `"passive"` (listen).
 * @param peer The peer, for messages.
 * @param timeout Milliseconds to wait for the peer.
 * @throws {TransferError} With `abort` set, saying that both sides need
 * `--confirm`, when the peer does not take part.
 */
export async function negotiateConfirm(
  conn: Deno.Conn,
  role: "active" | "passive",
  peer: string,
  timeout: number,
): Promise<void> {
  const none = { sent: 0, received: 0 };
  if (role === "active") await writeAll(conn, CONFIRM_HELLO);
  let answer: Uint8Array;
  try {
    answer = await withTimeout(
      readUpTo(conn, CONFIRM_HELLO.length),
      timeout,
    );
  } catch (error) {
    const what = error instanceof Deno.errors.TimedOut
      ? `sent nothing within ${timeout / 1000} s`
      : `failed: ${reasonOf(error)}`;
    throw new TransferError(
      role === "active"
        ? `${peer} did not answer the --confirm request (it ${what}): both sides need --confirm`
        : `${peer} did not ask for confirmation (it ${what}): both sides need --confirm`,
      none,
      error,
      true,
    );
  }
  if (!sameBytes(answer, CONFIRM_HELLO)) {
    throw new TransferError(
      role === "active"
        ? `${peer} ${
          answer.length === 0 ? "ended the connection" : "sent data"
        } instead of answering the --confirm request: both sides need --confirm`
        : `${peer} ${
          answer.length === 0 ? "ended the connection" : "sent data"
        } without asking for confirmation: both sides need --confirm (nothing was sent to it)`,
      none,
      undefined,
      true,
    );
  }
  if (role === "passive") await writeAll(conn, CONFIRM_HELLO);
}

/** Fills `frame` (exactly as long as it) with `type | length | payload`. */
function putFrame(
  frame: Uint8Array,
  type: number,
  payload: Uint8Array,
): Uint8Array {
  frame[0] = type;
  new DataView(frame.buffer, frame.byteOffset).setUint32(1, payload.length);
  frame.set(payload, HEADER);
  return frame;
}

/** The most data frames gathered into one write over an encrypted stream. */
const GATHER_LIMIT = 1 << 20;

/**
 * Writes frames one at a time, in order, whoever sends them. Over an
 * encrypted stream (`gather`), data frames that arrive while a write is on
 * its way are gathered into the next write, up to 1 MiB: one record each,
 * large records whatever the input's chunk size (a pipe gives 64 KiB), and
 * the input is read while the record before is sealed and sent.
 */
class FrameWriter {
  #conn: Deno.Conn;
  #queue: Promise<void> = Promise.resolve();
  #data: Uint8Array = new Uint8Array(0);
  #gather: boolean;
  #gathered: Uint8Array | undefined;
  #gatheredLength = 0;
  /** The write in flight, while there is one. */
  #inFlight: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;

  constructor(conn: Deno.Conn, gather = false) {
    this.#conn = conn;
    this.#gather = gather;
  }

  #enqueue(bytes: Uint8Array): Promise<void> {
    const next = this.#queue.then(() => writeAll(this.#conn, bytes));
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Sends what was gathered; resolves when it is written. */
  #sendGathered(): Promise<void> {
    if (this.#gatheredLength === 0) return this.#inFlight ?? this.#queue;
    const bytes = this.#gathered!.subarray(0, this.#gatheredLength);
    this.#gathered = undefined;
    this.#gatheredLength = 0;
    const sending = this.#enqueue(bytes);
    this.#inFlight = sending;
    sending.then(() => {
      if (this.#inFlight === sending) this.#inFlight = undefined;
      // Whatever gathered meanwhile goes next.
      if (this.#gatheredLength > 0 && this.#inFlight === undefined) {
        this.#sendGathered().catch(() => {});
      }
    }, (error) => {
      this.#failure ??= { error };
    });
    return sending;
  }

  /** A control frame, after every data frame before it. */
  control(type: number, payload: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    if (this.#gather) this.#sendGathered().catch(() => {});
    const frame = new Uint8Array(HEADER + payload.length);
    return this.#enqueue(putFrame(frame, type, payload));
  }

  /** Appends a data frame to the gathered bytes (encrypted streams). */
  async #gatherData(payload: Uint8Array): Promise<void> {
    const size = HEADER + payload.length;
    while (true) {
      if (this.#failure !== undefined) throw this.#failure.error;
      const room = this.#gathered === undefined ||
        this.#gatheredLength + size <= this.#gathered.length;
      if (room) break;
      await this.#sendGathered(); // full: wait until it is on its way out
    }
    this.#gathered ??= new Uint8Array(Math.max(GATHER_LIMIT, size));
    const frame = this.#gathered.subarray(
      this.#gatheredLength,
      this.#gatheredLength + size,
    );
    putFrame(frame, FRAME_DATA, payload);
    this.#gatheredLength += size;
    if (this.#inFlight === undefined) this.#sendGathered().catch(() => {});
  }

  /**
   * A data frame; the caller waits for it before sending the next one. Over
   * an encrypted stream it resolves once the frame is gathered (a failed
   * write is reported by the next call).
   */
  data(payload: Uint8Array): Promise<void> {
    if (this.#gather) return this.#gatherData(payload);
    if (this.#data.length < HEADER + payload.length) {
      this.#data = new Uint8Array(HEADER + payload.length);
    }
    const frame = this.#data.subarray(0, HEADER + payload.length);
    return this.#enqueue(putFrame(frame, FRAME_DATA, payload));
  }
}

class ProtocolError extends Error {
  constructor(message: string) {
    super(`confirmation protocol error: ${message}`);
    this.name = "ProtocolError";
  }
}

/**
 * Reads the peer's frames: a {@linkcode ByteSource} of the data until `END`,
 * handing answers to `onAnswer` whenever they come.
 */
class FrameReader implements ByteSource {
  #conn: Deno.Conn;
  #stash: Uint8Array = new Uint8Array(0);
  #remaining = 0;
  /** The count in the peer's `END` frame, once it came. */
  endCount: number | undefined;
  /** Whether `OK` answers carry a SHA-256. */
  digest = true;
  onAnswer: (answer: Answer) => void = () => {};

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Makes the stash hold at least `length` bytes; false at a clean end. */
  async #fill(length: number): Promise<boolean> {
    while (this.#stash.length < length) {
      // Exactly what is missing: the payload that follows goes straight
      // into the caller's buffer, never through the stash.
      const buffer = new Uint8Array(length - this.#stash.length);
      const count = await this.#conn.read(buffer);
      if (count === null) {
        if (this.#stash.length === 0) return false;
        throw new Deno.errors.UnexpectedEof(
          "the peer's stream ended inside a frame",
        );
      }
      const joined = new Uint8Array(this.#stash.length + count);
      joined.set(this.#stash);
      joined.set(buffer.subarray(0, count), this.#stash.length);
      this.#stash = joined;
    }
    return true;
  }

  #take(length: number): Uint8Array {
    const taken = this.#stash.subarray(0, length);
    this.#stash = this.#stash.subarray(length);
    return taken;
  }

  /** The next frame header; `null` at a clean end of stream. */
  async #header(): Promise<{ type: number; length: number } | null> {
    if (!await this.#fill(HEADER)) return null;
    const header = this.#take(HEADER);
    const type = header[0];
    const length = new DataView(header.buffer, header.byteOffset).getUint32(1);
    if (type === FRAME_DATA ? length > MAX_DATA : length > MAX_CONTROL) {
      throw new ProtocolError(`frame of type ${type} too long (${length})`);
    }
    return { type, length };
  }

  /** Reads a control frame's payload and acts on it. */
  async #control(type: number, length: number): Promise<void> {
    await this.#fill(length);
    const payload = this.#take(length).slice();
    const view = new DataView(payload.buffer);
    if (length < 8) throw new ProtocolError(`frame of type ${type} too short`);
    const count = Number(view.getBigUint64(0));
    if (type === FRAME_END) {
      if (this.endCount !== undefined) throw new ProtocolError("second END");
      this.endCount = count;
    } else if (type === FRAME_OK && length === (this.digest ? 40 : 8)) {
      this.onAnswer({
        ok: true,
        count,
        sha256: toHex(payload.subarray(8)),
        reason: "",
      });
    } else if (type === FRAME_FAILED) {
      this.onAnswer({
        ok: false,
        count,
        sha256: "",
        reason: new TextDecoder().decode(payload.subarray(8)),
      });
    } else {
      throw new ProtocolError(`unexpected frame of type ${type}`);
    }
  }

  /** The peer's data, until its `END` frame (`null` then). */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#remaining > 0) {
        const wanted = Math.min(this.#remaining, buffer.length);
        let count: number | null;
        if (this.#stash.length > 0) {
          count = Math.min(wanted, this.#stash.length);
          buffer.set(this.#take(count));
        } else {
          count = await this.#conn.read(buffer.subarray(0, wanted));
          if (count === null) {
            throw new Deno.errors.UnexpectedEof(
              "the peer's stream ended inside a data frame",
            );
          }
        }
        this.#remaining -= count;
        return count;
      }
      if (this.endCount !== undefined) return null;
      const header = await this.#header();
      if (header === null) {
        throw new Deno.errors.UnexpectedEof(
          "the peer's stream ended before its end-of-data mark",
        );
      }
      if (header.type === FRAME_DATA) this.#remaining = header.length;
      else await this.#control(header.type, header.length);
    }
  }

  /** Skips the rest of the peer's data (after our output failed). */
  async skipData(): Promise<void> {
    const buffer = new Uint8Array(65536);
    while (await this.read(buffer) !== null) {
      // Dropped: the peer was told that we cannot write.
    }
  }

  /** After `END`: reads the remaining control frames up to the end of stream. */
  async finish(): Promise<void> {
    while (true) {
      const header = await this.#header();
      if (header === null) return;
      if (header.type === FRAME_DATA) {
        throw new ProtocolError("data after the end-of-data mark");
      }
      await this.#control(header.type, header.length);
    }
  }
}

/**
 * Like {@linkcode transfer}, with confirmation each way (see the module
 * doc). Call it after {@linkcode negotiateConfirm}.
 *
 * @param conn The connection; the caller closes it.
 * @param options Input, output, callbacks, names, and `sync` for a file.
 * @returns The bytes moved and their SHA-256, confirmed by the peer.
 * @throws {TransferError} When anything failed or did not match.
 */
export async function confirmedTransfer(
  conn: Deno.Conn,
  options: ConfirmOptions = {},
): Promise<ConfirmedResult> {
  const core = new TransferCore(conn, options);
  const confirmation = new Confirmation(core, conn, options);
  try {
    await core.run(
      () => confirmation.send(),
      () => confirmation.receive(),
      () => confirmation.finish(),
    );
  } catch (error) {
    throw confirmation.failure(error);
  }
  return confirmation.result();
}

/**
 * What a confirmed transfer adds to {@linkcode TransferCore}: the frames
 * each way, the hashes, our answer about the peer's data and the check of
 * its answer about ours.
 */
class Confirmation {
  readonly #core: TransferCore;
  readonly #conn: Deno.Conn;
  readonly #options: ConfirmOptions;
  readonly #digest: boolean;
  readonly #writer: FrameWriter;
  readonly #reader: FrameReader;
  readonly #sentHash: Hash | undefined;
  readonly #receivedHash: Hash | undefined;
  readonly #output: ByteSink;
  #answer: Answer | undefined;
  #outputFailure: unknown;

  constructor(core: TransferCore, conn: Deno.Conn, options: ConfirmOptions) {
    this.#core = core;
    this.#conn = conn;
    this.#options = options;
    this.#output = options.output ?? discard;
    this.#digest = options.digest ?? true;
    this.#writer = new FrameWriter(conn, !this.#digest);
    this.#reader = new FrameReader(conn);
    this.#reader.digest = this.#digest;
    this.#sentHash = this.#digest ? createHash("sha256") : undefined;
    this.#receivedHash = this.#digest ? createHash("sha256") : undefined;
    this.#reader.onAnswer = (received) => {
      if (this.#answer !== undefined) throw new ProtocolError("second answer");
      this.#answer = received;
      if (!received.ok) core.stopInput(); // the peer cannot write: stop
    };
  }

  /** The input as data frames, then `END` with the count sent. */
  async send(): Promise<void> {
    if (!await this.#core.send(this.#frames)) return;
    await this.#writer.control(FRAME_END, encodeCount(this.#core.counts.sent));
  }

  /** Where the input goes: data frames, hashed once written. */
  readonly #frames: ByteSink = {
    write: async (buffer: Uint8Array): Promise<number> => {
      await this.#writer.data(buffer);
      this.#sentHash?.update(buffer);
      return buffer.length;
    },
  };

  /** The peer's data up to its `END`, then our answer (`OK` or `FAILED`). */
  async receive(): Promise<void> {
    const core = this.#core;
    const arrived = await core.receive(
      this.#reader,
      this.#hashedOutput,
      (error) => {
        const cause = error instanceof PumpError ? error.cause : error;
        const message = receivingFailed(cause, core.counts, core.names);
        return new TransferError(message, core.counts, cause);
      },
    );
    if (arrived === undefined) return;
    if (this.#reader.endCount !== arrived) {
      throw new ProtocolError(
        `${core.names.peer} says it sent ${this.#reader.endCount} bytes, ${arrived} arrived`,
      );
    }
    if (this.#outputFailure !== undefined) return;
    try {
      await this.#options.sync?.();
    } catch (error) {
      this.#outputFailure = error;
      await this.#tellFailure(
        `cannot sync ${core.names.output} to disk: ${reasonOf(error)}`,
      );
      return;
    }
    const hash = this.#receivedHash;
    const payload = encodeCount(core.counts.received, hash ? 32 : 0);
    if (hash) payload.set(hash.copy().digest(), 8);
    await this.#writer.control(FRAME_OK, payload);
  }

  /**
   * The output, hashed and counted. After a failed write the peer's data is
   * read and dropped up to its END, so that it gets our answer instead of a
   * broken connection.
   */
  readonly #hashedOutput: ByteSink = {
    write: async (buffer: Uint8Array): Promise<number> => {
      if (this.#outputFailure !== undefined) return buffer.length;
      let count: number;
      try {
        count = await this.#output.write(buffer);
      } catch (error) {
        this.#outputFailure = error;
        await this.#tellFailure(
          `cannot write ${this.#core.names.output}: ${reasonOf(error)}`,
        );
        return buffer.length;
      }
      this.#receivedHash?.update(buffer.subarray(0, count));
      this.#core.countReceived(count);
      return count;
    },
  };

  /** Answers `FAILED` with the count written and the reason. */
  async #tellFailure(reason: string): Promise<void> {
    const text = new TextEncoder().encode(reason.slice(0, 1000));
    const payload = encodeCount(this.#core.counts.received, text.length);
    payload.set(text, 8);
    await this.#writer.control(FRAME_FAILED, payload);
  }

  /** After both directions: our end of stream, then the peer's last frames. */
  async finish(): Promise<void> {
    await this.#conn.closeWrite();
    await this.#reader.finish();
  }

  /** The error for a failed transfer, in one line with the counts. */
  failure(error: unknown): TransferError {
    if (error instanceof TransferError) return error;
    const { names, counts } = this.#core;
    const message = error instanceof Error ? error.message : String(error);
    return new TransferError(
      `Confirmed transfer with ${names.peer} failed after ${
        formatByteCount(counts.sent)
      } sent and ${formatByteCount(counts.received)} received: ${message}`,
      counts,
      error,
    );
  }

  /**
   * The result once both directions ended: our output written, and the
   * peer's answer confirming what we sent.
   *
   * @throws {TransferError} When either is not so.
   */
  result(): ConfirmedResult {
    const { names, counts } = this.#core;
    if (this.#outputFailure !== undefined) {
      throw new TransferError(
        `Cannot write ${names.output} after ${
          formatByteCount(counts.received)
        }: ${reasonOf(this.#outputFailure)}; ${names.peer} was told`,
        counts,
        this.#outputFailure,
      );
    }
    const sentSha256 = this.#sentHash?.digest("hex") ?? "";
    this.#checkAnswer(sentSha256);
    if (!this.#digest) return counts;
    return {
      ...counts,
      sentSha256,
      receivedSha256: this.#receivedHash?.digest("hex"),
    };
  }

  /** Throws unless the peer confirmed exactly what we sent. */
  #checkAnswer(sentSha256: string): void {
    const { names, counts } = this.#core;
    const answer = this.#answer;
    const sent = formatByteCount(counts.sent);
    if (answer === undefined) {
      throw new TransferError(
        `${names.peer} ended the connection without confirming the ${sent} sent to it: delivery is not confirmed`,
        counts,
      );
    }
    const confirmed = formatByteCount(answer.count);
    if (!answer.ok) {
      throw new TransferError(
        `${names.peer} could not store what it received: ${answer.reason} (it wrote ${confirmed} of the ${sent} sent)`,
        counts,
      );
    }
    if (answer.count !== counts.sent && !this.#digest) {
      throw new TransferError(
        `${names.peer} confirmed ${confirmed}, but ${sent} were sent`,
        counts,
      );
    }
    if (answer.count !== counts.sent || answer.sha256 !== sentSha256) {
      throw new TransferError(
        `${names.peer} confirmed ${confirmed} with SHA-256 ${answer.sha256}, but ${sent} with SHA-256 ${sentSha256} were sent: the data was altered`,
        counts,
      );
    }
  }
}
