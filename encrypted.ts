/**
 * The encrypted stream: a `Deno.Conn` over a `Deno.Conn` that carries the
 * bytes in AES-256-GCM records keyed by the CPace exchange
 * ({@linkcode authenticate}). A {@linkcode Connector} with a `secret` (and no
 * `tls`) returns one. Every record is checked before a byte of it is handed
 * out: an altered, replayed, reordered or dropped record, or a stream that
 * ends without the peer's authenticated end record, fails with
 * `Deno.errors.InvalidData`. The record format is in docs/secret.md.
 *
 * @module
 */
import { isBrokenEnd, writeAll } from "./_io.ts";
import { formatAddr } from "./address.ts";
import {
  DirectionKeys,
  HEADER_LENGTH,
  MAX_CIPHERTEXT,
  MAX_PLAINTEXT,
  MAX_RECORDS,
  openRecord,
  RECORD_DATA,
  RECORD_END,
  recordHeader,
  RECORDS_PER_KEY,
  sealRecord,
  TAG_LENGTH,
} from "./_records.ts";

/** What both sides share after the exchange ({@linkcode AuthenticationResult}). */
export interface EncryptionSession {
  /** This side's role in the exchange. */
  role: "active" | "passive";
  /** CPace's intermediate session key (ISK). */
  sessionKey: Uint8Array;
  /** The exchange's session id (sid). */
  sessionId: Uint8Array;
}

/** Options of {@linkcode EncryptedConn.create}. */
export interface EncryptedConnOptions {
  /**
   * `true` (default): `closeWrite()` sends the end record, then half-closes
   * the socket. `false`: `closeWrite()` sends the end record only and the
   * socket stays open both ways until `close()`; for a path that closes both
   * directions on a half-close, such as magic-wormhole's transit relay.
   */
  halfClose?: boolean;
}

/** Bytes of application data an {@linkcode EncryptedConn} wrote and read. */
export interface EncryptedByteCounts {
  /** Bytes written (all of them sealed and handed to the socket). */
  written: number;
  /** Bytes read (all of them checked). */
  read: number;
}

/** Builds a conn with another epoch length (tests of the key rotation). */
let createEncryptedConn: (
  conn: Deno.Conn,
  session: EncryptionSession,
  options: EncryptedConnOptions,
  recordsPerKey: number,
) => Promise<EncryptedConn>;

/** Records read and opened ahead of the caller. */
const READ_AHEAD = 2;

/** What is wrong with the incoming records, before it is put in words. */
class RecordFault extends Error {
  constructor(
    readonly kind: "altered" | "truncated",
    message: string,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

/** Below this many bytes the header and the ciphertext go in one write. */
const JOIN_BELOW = 64 * 1024;

/**
 * A `Deno.Conn` whose bytes travel encrypted and authenticated, in records
 * (AES-256-GCM, a key per direction derived from the CPace session key, the
 * record number as nonce). `closeWrite()` sends an authenticated end record:
 * the peer's `read()` returns `null` only after it, so a cut connection is
 * never mistaken for a clean end.
 *
 * @example Both sides on loopback, after the secret exchange
 * ```ts
 * import { authenticate, EncryptedConn } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * const secret = new TextEncoder().encode("42-apple-cabin-stone-quiet");
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const signal = AbortSignal.timeout(5_000);
 * const [client, server] = await Promise.all([
 *   Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
 *   listener.accept(),
 * ]);
 * const [a, p] = await Promise.all([
 *   authenticate(client, { role: "active", secret, signal, encrypt: true }),
 *   authenticate(server, { role: "passive", secret, signal, encrypt: true }),
 * ]);
 * using sender = await EncryptedConn.create(client, { role: "active", ...a });
 * using receiver = await EncryptedConn.create(server, { role: "passive", ...p });
 *
 * await sender.write(new TextEncoder().encode("hi"));
 * await sender.closeWrite(); // the end record
 * const buffer = new Uint8Array(8);
 * assertEquals(await receiver.read(buffer), 2);
 * assertEquals(await receiver.read(buffer), null); // after the end record only
 * ```
 */
export class EncryptedConn implements Deno.Conn {
  #conn: Deno.Conn;
  #halfClose: boolean;
  #sendKeys: DirectionKeys;
  #receiveKeys: DirectionKeys;
  #sent = 0;
  #received = 0;
  /** Settles when the writes queued so far are done. */
  #writing: Promise<void> = Promise.resolve();
  #writeError: unknown;
  #writeEnded = false;
  /** The next records, read and opened ahead of the caller, in order. */
  #queue: Promise<Uint8Array | null>[] = [];
  /** Settles when the last queued record was read off the socket. */
  #lastRead: Promise<void> = Promise.resolve();
  /** The end record was read (no read goes past it). */
  #endSeen = false;
  #closingWrite: Promise<void> | undefined;
  #plain: Uint8Array = new Uint8Array(0);
  #readEnded = false;
  #readError: unknown;
  #closed = false;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  #counters: EncryptedByteCounts = { written: 0, read: 0 };

  private constructor(
    conn: Deno.Conn,
    session: EncryptionSession,
    options: EncryptedConnOptions,
    recordsPerKey: number,
  ) {
    this.#conn = conn;
    this.#halfClose = options.halfClose ?? true;
    const { sessionKey, sessionId } = session;
    const out = session.role === "active"
      ? "active to passive"
      : "passive to active";
    const back = session.role === "active"
      ? "passive to active"
      : "active to passive";
    this.#sendKeys = new DirectionKeys(
      sessionKey,
      sessionId,
      out,
      recordsPerKey,
    );
    this.#receiveKeys = new DirectionKeys(
      sessionKey,
      sessionId,
      back,
      recordsPerKey,
    );
  }

  /**
   * Wraps `conn`, right after the secret exchange, in the record layer keyed
   * by `session`. The first key of each direction is derived before it
   * resolves.
   *
   * @param conn The connection the exchange ran on; the new conn owns it.
   * @param session This side's role and what {@linkcode authenticate}
   * returned.
   * @param options `halfClose` (see {@linkcode EncryptedConnOptions}).
   * @returns The encrypted connection.
   * @throws {TypeError} On a role other than `"active"` or `"passive"`, or
   * session keys that are not byte arrays.
   */
  static async create(
    conn: Deno.Conn,
    session: EncryptionSession,
    options: EncryptedConnOptions = {},
  ): Promise<EncryptedConn> {
    return await createEncryptedConn(conn, session, options, RECORDS_PER_KEY);
  }

  static {
    createEncryptedConn = async (conn, session, options, recordsPerKey) => {
      checkSession(session);
      if (
        options.halfClose !== undefined &&
        typeof options.halfClose !== "boolean"
      ) {
        throw new TypeError('Invalid option "halfClose": expected a boolean');
      }
      const encrypted = new EncryptedConn(
        conn,
        session,
        options,
        recordsPerKey,
      );
      await Promise.all([
        encrypted.#sendKeys.keyFor(0),
        encrypted.#receiveKeys.keyFor(0),
      ]);
      return encrypted;
    };
  }

  /** The local address of the connection underneath. */
  get localAddr(): Deno.Addr {
    return this.#conn.localAddr;
  }

  /** The peer's address. */
  get remoteAddr(): Deno.Addr {
    return this.#conn.remoteAddr;
  }

  /** Bytes of application data written and read so far (after checks). */
  get bytes(): Readonly<EncryptedByteCounts> {
    return { ...this.#counters };
  }

  #peer(): string {
    try {
      return formatAddr(this.#conn.remoteAddr);
    } catch {
      return "the peer";
    }
  }

  /** Numbers and seals one record: its header and ciphertext. */
  async #seal(
    type: number,
    plaintext: Uint8Array,
  ): Promise<[Uint8Array, Uint8Array]> {
    const counter = this.#sent++;
    if (counter >= MAX_RECORDS) {
      throw new RangeError(
        `The encrypted stream to ${this.#peer()} reached its limit of 2^48 records: open a new connection`,
      );
    }
    const header = recordHeader(type, plaintext.length);
    const key = await this.#sendKeys.keyFor(counter);
    return [header, await sealRecord(key, counter, header, plaintext)];
  }

  /** Writes one sealed record: header and ciphertext. */
  async #writeRecord([header, ciphertext]: [Uint8Array, Uint8Array]) {
    if (ciphertext.length < JOIN_BELOW) {
      const record = new Uint8Array(HEADER_LENGTH + ciphertext.length);
      record.set(header);
      record.set(ciphertext, HEADER_LENGTH);
      await writeAll(this.#conn, record);
    } else {
      await writeAll(this.#conn, header);
      await writeAll(this.#conn, ciphertext);
    }
  }

  #checkWritable(ending = false): void {
    if (this.#writeError !== undefined) throw this.#writeError;
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        `The encrypted connection to ${this.#peer()} is closed`,
      );
    }
    if (this.#writeEnded && !ending) {
      throw new Deno.errors.BrokenPipe(
        `Cannot write to ${this.#peer()}: closeWrite() already ended this side of the encrypted stream`,
      );
    }
  }

  /** Seals `p` into records and writes them, sealing each next record
   * while the one before it is being written. */
  async #sendData(p: Uint8Array): Promise<void> {
    let writing: Promise<void> = Promise.resolve();
    for (let offset = 0; offset < p.length; offset += MAX_PLAINTEXT) {
      const sealed = await this.#seal(
        RECORD_DATA,
        p.subarray(offset, Math.min(p.length, offset + MAX_PLAINTEXT)),
      );
      await writing;
      writing = this.#writeRecord(sealed);
      writing.catch(() => {});
    }
    await writing;
  }

  /** Runs `task` after every write queued before it; a failure sticks. */
  #inTurn(task: () => Promise<void>): Promise<void> {
    const turn = this.#writing.then(() => {
      this.#checkWritable(true);
      return task();
    });
    this.#writing = turn.catch((error) => {
      this.#writeError ??= error;
    });
    return turn;
  }

  /**
   * Encrypts `p` into records (at most 1 MiB of it each) and writes them; a
   * large `p` is sealed record by record while the record before is written.
   * Writes made without waiting go out in their order.
   *
   * @param p The bytes to send.
   * @returns `p.length`, once every record of it is written to the socket.
   * @throws {Deno.errors.BrokenPipe} After `closeWrite()`.
   * @throws {Deno.errors.BadResource} After `close()`.
   */
  async write(p: Uint8Array): Promise<number> {
    this.#checkWritable();
    if (p.length === 0) return 0;
    await this.#inTurn(() => this.#sendData(p));
    this.#counters.written += p.length;
    return p.length;
  }

  /**
   * Ends this direction: sends the authenticated end record after every
   * queued byte, then (with `halfClose`, the default) half-closes the
   * socket. Later calls return the same promise.
   *
   * @returns When everything, the end record included, is written.
   * @throws The socket error that stopped an earlier record, if any.
   */
  closeWrite(): Promise<void> {
    if (this.#closingWrite === undefined) {
      this.#writeEnded = true;
      this.#closingWrite = this.#inTurn(async () => {
        await this.#writeRecord(
          await this.#seal(RECORD_END, new Uint8Array(0)),
        );
        if (this.#halfClose) await this.#conn.closeWrite();
      });
    }
    return this.#closingWrite;
  }

  #altered(what: string, cause?: unknown): Deno.errors.InvalidData {
    return new Deno.errors.InvalidData(
      `The data from ${this.#peer()} was altered in transit: ${what} (the ${this.#counters.read} bytes before it were checked and delivered; nothing after)`,
      { cause },
    );
  }

  #truncated(where: string, cause?: unknown): Deno.errors.InvalidData {
    return new Deno.errors.InvalidData(
      `The data from ${this.#peer()} was truncated: the connection ended ${where} without the peer's authenticated end record (the ${this.#counters.read} bytes before it were checked and delivered)`,
      { cause },
    );
  }

  /**
   * Fills `buffer`; false when the stream ends before its first byte at a
   * record `boundary` (the caller reports the missing end record).
   */
  async #fill(buffer: Uint8Array, boundary: boolean): Promise<boolean> {
    let filled = 0;
    while (filled < buffer.length) {
      let count: number | null;
      try {
        count = await this.#conn.read(buffer.subarray(filled));
      } catch (error) {
        if (!isBrokenEnd(error)) throw error;
        throw new RecordFault(
          "truncated",
          `with a reset ${
            boundary && filled === 0 ? "between records" : "inside a record"
          }`,
          error,
        );
      }
      if (count === null) {
        if (filled === 0 && boundary) return false;
        throw new RecordFault("truncated", "inside a record");
      }
      filled += count;
    }
    return true;
  }

  /**
   * Reads the next record off the socket (never past the end record) and
   * starts opening it; resolves with the plaintext, `null` for the end
   * record, or rejects with a {@linkcode RecordFault}.
   */
  async #readRecord(): Promise<{ opening: Promise<Uint8Array | null> }> {
    if (this.#endSeen) return { opening: Promise.resolve(null) };
    const header = new Uint8Array(HEADER_LENGTH);
    if (!await this.#fill(header, true)) {
      throw new RecordFault("truncated", "between records");
    }
    const type = header[0];
    const length = new DataView(header.buffer).getUint32(1);
    if (type !== RECORD_DATA && type !== RECORD_END) {
      throw new RecordFault(
        "altered",
        `a record header has the unknown type ${type}`,
      );
    }
    if (length > MAX_CIPHERTEXT || length < TAG_LENGTH) {
      throw new RecordFault(
        "altered",
        `a record header announces ${length} bytes (a record holds ${TAG_LENGTH} to ${MAX_CIPHERTEXT})`,
      );
    }
    const ciphertext = new Uint8Array(length);
    await this.#fill(ciphertext, false);
    if (type === RECORD_END) this.#endSeen = true;
    const counter = this.#received++;
    const opening = this.#open(counter, type, header, ciphertext);
    opening.catch(() => {});
    return { opening }; // not awaited: the next read starts meanwhile
  }

  async #open(
    counter: number,
    type: number,
    header: Uint8Array<ArrayBuffer>,
    ciphertext: Uint8Array<ArrayBuffer>,
  ): Promise<Uint8Array | null> {
    let plaintext: Uint8Array;
    try {
      const key = await this.#receiveKeys.keyFor(counter);
      plaintext = await openRecord(key, counter, header, ciphertext);
    } catch (error) {
      throw new RecordFault(
        "altered",
        `record ${counter} failed its integrity check (changed, replayed, reordered, dropped, or sealed with another key)`,
        error,
      );
    }
    if (type === RECORD_END) {
      if (plaintext.length !== 0) {
        throw new RecordFault("altered", "the end record carries data");
      }
      return null;
    }
    return plaintext;
  }

  /**
   * Queues the next record: read after the ones queued before it, opened as
   * soon as it is read (while the caller still uses earlier ones).
   */
  #schedule(): void {
    const reading = this.#lastRead.then(() => this.#readRecord());
    this.#lastRead = reading.then(() => {}, () => {});
    const plaintext = reading.then(({ opening }) => opening);
    plaintext.catch(() => {});
    this.#queue.push(plaintext);
  }

  /**
   * Reads checked plaintext into `p`.
   *
   * @param p Where to put the bytes.
   * @returns How many bytes, or `null` after the peer's end record.
   * @throws {Deno.errors.InvalidData} When a record was altered, replayed,
   * reordered or dropped ("altered in transit"), or the stream ended without
   * the end record ("truncated"). The error repeats on later reads.
   */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    while (this.#plain.length === 0) {
      if (this.#readError !== undefined) throw this.#readError;
      if (this.#readEnded) return null;
      if (this.#queue.length === 0) this.#schedule();
      const next = this.#queue.shift()!;
      try {
        const plaintext = await next;
        if (plaintext === null) this.#readEnded = true;
        else {
          this.#plain = plaintext;
          // Read and check the next records while the caller uses this one.
          while (!this.#closed && this.#queue.length < READ_AHEAD) {
            this.#schedule();
          }
        }
      } catch (error) {
        if (error instanceof RecordFault) {
          this.#readError = error.kind === "altered"
            ? this.#altered(error.message, error.cause)
            : this.#truncated(error.message, error.cause);
        }
        throw this.#readError ?? error;
      }
    }
    const count = Math.min(p.length, this.#plain.length);
    p.set(this.#plain.subarray(0, count));
    this.#plain = this.#plain.subarray(count);
    this.#counters.read += count;
    return count;
  }

  /**
   * Closes the connection underneath (both directions). Without
   * `closeWrite()` first, a peer that reads to the end sees a truncated
   * stream. Later calls do nothing.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }

  /**
   * Closes the connection once the peer has closed its side, or after
   * `timeout` milliseconds. Over a path that cannot half-close
   * (`halfClose: false`: a proxy or relay that ends both directions when one
   * side closes), closing at once can cut off this side's end record while
   * it is still on its way: some proxies drop what they hold when the client
   * closes. The peer closes only after it has read that record, so waiting
   * for its close lets the record arrive. With `halfClose` (the default)
   * this closes at once: the half-close already put the end in order.
   *
   * Call it on one side only, after `closeWrite()` and after `read()`
   * returned `null` (the peer's end record); the other side closes as usual.
   * Before the peer's end record it closes at once, as {@linkcode close}.
   *
   * @example Usage
   * ```ts
   * import { Connector, EncryptedConn } from "@transfer/connect";
   * import { assert } from "@std/assert";
   *
   * const secret = "42-apple-river";
   * await using passive = new Connector({
   *   mode: "passive",
   *   host: "127.0.0.1",
   *   secret,
   * });
   * const { port } = await passive.listen() as Deno.NetAddr;
   * const [client, server] = await Promise.all([
   *   new Connector({ host: "127.0.0.1", port, secret }).connect(),
   *   passive.connect(),
   * ]);
   * assert(client instanceof EncryptedConn);
   * await Promise.all([client.closeWrite(), server.closeWrite()]);
   * const buffer = new Uint8Array(16);
   * while (await client.read(buffer) !== null) {} // to the end record
   * // The connecting side waits at most 2 s for the peer's close.
   * const closing = client.closeAfterPeer(2000);
   * while (await server.read(buffer) !== null) {} // to the end record
   * server.close();
   * await closing;
   * ```
   *
   * @param timeout The longest wait for the peer's close, in milliseconds.
   * @returns When the connection is closed.
   * @throws {RangeError} When `timeout` is not a number from 0 to 2^31 - 1.
   */
  async closeAfterPeer(timeout: number): Promise<void> {
    if (
      typeof timeout !== "number" || !(timeout >= 0 && timeout <= 2 ** 31 - 1)
    ) {
      throw new RangeError(
        `Invalid timeout ${timeout}: expected 0 to ${2 ** 31 - 1} milliseconds`,
      );
    }
    if (this.#closed) return;
    if (this.#halfClose || !this.#endSeen || timeout === 0) {
      return this.close();
    }
    await this.#lastRead; // no record read in flight on the socket
    const timer = setTimeout(() => this.close(), timeout);
    try {
      const sink = new Uint8Array(1024);
      // Past the end record only the peer's close is expected.
      while (!this.#closed && await this.#conn.read(sink) !== null) {
        /* nothing may follow the end record: dropped unread */
      }
    } catch {
      // A reset, or the close at the timeout: either way the peer is done.
    } finally {
      clearTimeout(timer);
      this.close();
    }
  }

  /** Same as {@linkcode EncryptedConn.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Lets the process exit while a read or write is pending. */
  unref(): void {
    this.#conn.unref();
  }

  /** Undoes {@linkcode EncryptedConn.unref}. */
  ref(): void {
    this.#conn.ref();
  }

  /**
   * The checked plaintext as a stream; it ends after the peer's end record
   * (the connection stays open: the other direction is the caller's).
   * Cancelling it closes the connection.
   */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        const buffer = new Uint8Array(64 * 1024);
        const count = await this.read(buffer);
        if (count === null) controller.close();
        else controller.enqueue(buffer.subarray(0, count));
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  /**
   * A stream that writes into the connection; closing it calls
   * `closeWrite()` (the end record), aborting it closes the connection.
   */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
    return this.#writable;
  }
}

/** @internal For tests: a conn that derives a new key every `recordsPerKey` records. */
export function _createWithEpoch(
  conn: Deno.Conn,
  session: EncryptionSession,
  recordsPerKey: number,
  options: EncryptedConnOptions = {},
): Promise<EncryptedConn> {
  return createEncryptedConn(conn, session, options, recordsPerKey);
}

function checkSession(session: EncryptionSession): void {
  if (session?.role !== "active" && session?.role !== "passive") {
    throw new TypeError(
      `Invalid session role ${
        JSON.stringify(session?.role)
      }: expected "active" or "passive"`,
    );
  }
  if (
    !(session.sessionKey instanceof Uint8Array) ||
    session.sessionKey.length === 0 ||
    !(session.sessionId instanceof Uint8Array)
  ) {
    throw new TypeError(
      "Invalid session: sessionKey and sessionId must be the byte arrays authenticate() returned",
    );
  }
}
