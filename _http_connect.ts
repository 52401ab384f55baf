/**
 * The client side of an HTTP CONNECT tunnel (RFC 9110 section 9.3.6) with
 * Basic proxy authentication. The reply's head is read up to its blank line
 * and not one byte further (each read asks for no more bytes than could
 * still belong to it), so the target's first bytes stay in the socket; any
 * 2xx opens the tunnel, interim 1xx replies are skipped, and every other
 * status becomes an error of its own class.
 *
 * @module
 */
import { formatHostPort } from "./address.ts";
import { writeAll } from "./_io.ts";
import { proxyError, quoteBytes } from "./_proxy_io.ts";

/** The longest reply head read before giving up on the proxy. */
const MAX_HEAD = 16 * 1024;
/** The shortest status line and blank line: `HTTP/1.1 200\r\n\r\n`. */
const MIN_HEAD = 16;
const HTTP_1 = "HTTP/1.";
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9][0-9]{2})(?: ([^\r\n]*))?$/;

type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

/**
 * The class and meaning of a failed CONNECT's status. The gateway statuses
 * are ConnectionRefused: proxies use them for a target that refused
 * (tinyproxy answers 500, ncat 504), and `retry` waits on that class.
 */
function classify(status: number): [ErrorClass, string] {
  if (status === 401 || status === 403) {
    return [Deno.errors.PermissionDenied, "does not allow this connection"];
  }
  if (status === 407) {
    return [
      Deno.errors.PermissionDenied,
      "requires authentication, or rejected the user name and password",
    ];
  }
  if ([500, 502, 503, 504].includes(status)) {
    return [
      Deno.errors.ConnectionRefused,
      "could not connect to the target (nothing listens there, or the proxy cannot reach it)",
    ];
  }
  if (status === 404) {
    return [Deno.errors.NotFound, "does not know the target host"];
  }
  if (status === 405 || status === 501) {
    return [Deno.errors.NotSupported, "does not support CONNECT"];
  }
  if (status === 408) {
    return [Deno.errors.TimedOut, "timed out waiting for the request"];
  }
  if (status >= 300 && status < 400) {
    return [
      Deno.errors.Http,
      "redirected the request, which a CONNECT proxy does not do; check the proxy URL",
    ];
  }
  return [Deno.errors.Http, "refused the CONNECT request"];
}

/** How many more bytes the head needs at least: its end is `\r\n\r\n`. */
function missingAtLeast(head: Uint8Array, length: number): number {
  const ends = (text: string) =>
    length >= text.length &&
    [...text].every((char, index) =>
      head[length - text.length + index] === char.charCodeAt(0)
    );
  if (length < MIN_HEAD) return MIN_HEAD - length;
  if (ends("\r\n\r")) return 1;
  if (ends("\r\n")) return 2;
  if (ends("\r")) return 3;
  return 4;
}

/** Reads one reply head exactly, its blank line included. */
async function readHead(conn: Deno.Conn, proxy: string): Promise<string> {
  const head = new Uint8Array(MAX_HEAD);
  let length = 0;
  while (length < 4 || !isHeadEnd(head, length)) {
    const wanted = missingAtLeast(head, length);
    if (length + wanted > MAX_HEAD) {
      throw proxyError(
        Deno.errors.InvalidData,
        proxy,
        `sent a reply head longer than ${MAX_HEAD} bytes`,
      );
    }
    const count = await conn.read(head.subarray(length, length + wanted));
    if (count === null) {
      throw length === 0
        ? proxyError(
          Deno.errors.UnexpectedEof,
          proxy,
          "closed the connection without answering the CONNECT request",
        )
        : proxyError(
          Deno.errors.InvalidData,
          proxy,
          `closed the connection in the middle of its reply ${
            quoteBytes(head.subarray(0, length))
          }`,
        );
    }
    length += count;
    if (!startsLikeHttp(head, length)) {
      throw proxyError(
        Deno.errors.InvalidData,
        proxy,
        `does not speak HTTP: it answered ${
          quoteBytes(head.subarray(0, length))
        }`,
      );
    }
  }
  return new TextDecoder().decode(head.subarray(0, length));
}

/** Whether the bytes so far can begin an HTTP/1.x status line. */
function startsLikeHttp(head: Uint8Array, length: number): boolean {
  for (let index = 0; index < Math.min(length, HTTP_1.length); index++) {
    if (head[index] !== HTTP_1.charCodeAt(index)) return false;
  }
  return true;
}

function isHeadEnd(head: Uint8Array, length: number): boolean {
  return head[length - 4] === 13 && head[length - 3] === 10 &&
    head[length - 2] === 13 && head[length - 1] === 10;
}

/** `Basic base64(user:password)`, UTF-8 (RFC 7617). */
function basicCredentials(auth: { username: string; password: string }) {
  const bytes = new TextEncoder().encode(`${auth.username}:${auth.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * Opens a CONNECT tunnel to `target` over `conn`, a connection to the proxy.
 * Resolves once the proxy's 2xx head is read, with no byte of the target's
 * read.
 *
 * @param proxy How messages name the proxy, e.g. `the HTTP proxy 127.0.0.1:3128`.
 */
export async function httpConnect(
  conn: Deno.Conn,
  target: { hostname: string; port: number },
  auth: { username: string; password: string } | undefined,
  proxy: string,
): Promise<void> {
  const authority = formatHostPort(target.hostname, target.port);
  const request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${
    auth === undefined
      ? ""
      : `Proxy-Authorization: ${basicCredentials(auth)}\r\n`
  }\r\n`;
  await writeAll(conn, new TextEncoder().encode(request));
  for (;;) {
    const head = await readHead(conn, proxy);
    const statusLine = head.slice(0, head.indexOf("\r\n"));
    const match = STATUS_LINE.exec(statusLine);
    if (match === null) {
      throw proxyError(
        Deno.errors.InvalidData,
        proxy,
        `does not speak HTTP: it answered ${
          quoteBytes(new TextEncoder().encode(statusLine))
        }`,
      );
    }
    const status = Number(match[1]);
    if (status >= 200 && status < 300) return;
    if (status >= 100 && status < 200) continue; // interim: the final one follows
    const [kind, what] = classify(status);
    const reason = (match[2] ?? "").slice(0, 80).replace(/[^\x20-\x7e]/g, "?");
    throw proxyError(
      kind,
      proxy,
      `${what} (HTTP ${status}${reason === "" ? "" : ` ${reason}`})`,
    );
  }
}
