/**
 * Messages of proxy handshakes: errors that name the proxy, and a garbage
 * reply quoted. (The exact reads and whole writes are in _io.ts.)
 *
 * @module
 */

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
