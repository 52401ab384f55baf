/**
 * Exact reads and whole writes for proxy handshakes: a handshake reads
 * exactly the proxy's reply and never a byte beyond it, so that whatever the
 * target sends first stays in the socket for the caller (and for TLS).
 *
 * @module
 */

/**
 * Reads up to `length` bytes, fewer only when the stream ends first: every
 * read asks for no more than is still missing.
 */
export async function readUpTo(
  conn: Deno.Conn,
  length: number,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const count = await conn.read(buffer.subarray(filled));
    if (count === null) break;
    filled += count;
  }
  return buffer.subarray(0, filled);
}

/** Writes every byte of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array) {
  let written = 0;
  while (written < data.length) {
    written += await conn.write(data.subarray(written));
  }
}

type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

/** An error of `kind` saying `what` about `proxy` ("the SOCKS5 proxy h:p"). */
export function proxyError(
  kind: ErrorClass,
  proxy: string,
  what: string,
): Error {
  return new kind(`${proxy} ${what}`);
}

/** Bytes as a short printable quote for a message about a garbage reply. */
export function quoteBytes(bytes: Uint8Array, max = 40): string {
  const shown = Array.from(
    bytes.subarray(0, max),
    (byte) =>
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, "0")}`,
  ).join("");
  return `"${shown}${bytes.length > max ? "…" : ""}"`;
}
