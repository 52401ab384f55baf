/**
 * The library's one whole write and one exact read. An exchange (the CPace
 * hello, a proxy's reply, the relay's answer) reads exactly its own bytes and
 * never one beyond them, so that whatever the peer sends next stays in the
 * socket for the caller. And the one way to hand on a connection whose reads
 * go through something else first ({@linkcode withRead}).
 *
 * @module
 */

/** Something bytes are read from: a `Deno.Conn`, or a stand-in for one. */
export interface Reader {
  /** Reads into `buffer`; the count read, or `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Something bytes are written to: a `Deno.Conn`, or a stand-in for one. */
export interface Writer {
  /** Writes some of `bytes`; the count written. */
  write(bytes: Uint8Array): Promise<number>;
}

/** How {@linkcode readUpTo} treats a stream that breaks. */
export interface ReadUpToOptions {
  /**
   * `true`: a reset or an unexpected end (`ConnectionReset`,
   * `UnexpectedEof`) ends the stream like a close, so the caller sees how
   * many bytes arrived. `false` (default): those errors are thrown.
   */
  resetIsEnd?: boolean;
}

/** Writes every byte of `bytes`, in as many writes as it takes. */
export async function writeAll(
  writer: Writer,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(bytes.subarray(written));
  }
}

/**
 * One read in which a reset or an unexpected end counts as the end of the
 * stream (`null`), as a close would; any other error is thrown.
 */
export async function readOrEnd(
  reader: Reader,
  buffer: Uint8Array,
): Promise<number | null> {
  try {
    return await reader.read(buffer);
  } catch (error) {
    if (isBrokenEnd(error)) return null;
    throw error;
  }
}

/** Whether a read failed because the stream broke off: a reset or an unexpected end. */
export function isBrokenEnd(error: unknown): boolean {
  return error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.ConnectionReset;
}

/**
 * Reads exactly `length` bytes, fewer only when the stream ends first (the
 * result is then shorter: the caller says what was cut). Every read asks for
 * no more than is still missing, so no byte beyond `length` is consumed.
 */
export async function readUpTo(
  reader: Reader,
  length: number,
  options: ReadUpToOptions = {},
): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const rest = buffer.subarray(filled);
    const count = options.resetIsEnd === true
      ? await readOrEnd(reader, rest)
      : await reader.read(rest);
    if (count === null) break;
    filled += count;
  }
  return buffer.subarray(0, filled);
}

/**
 * `conn` with its `read` replaced by `read`: every other member is the
 * connection's own (methods bound once, not on every access, since a
 * transfer calls `write` per chunk).
 */
export function withRead(
  conn: Deno.Conn,
  read: (buffer: Uint8Array) => Promise<number | null>,
): Deno.Conn {
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(conn, {
    get(target, property) {
      if (property === "read") return read;
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      let method = bound.get(property);
      if (method === undefined) {
        method = value.bind(target);
        bound.set(property, method);
      }
      return method;
    },
  });
}
