/**
 * The client side of a SOCKS5 CONNECT (RFC 1928) with user name and password
 * authentication (RFC 1929). Every reply is read exactly: the method choice
 * (2 bytes), the authentication status (2 bytes), and the CONNECT reply
 * whose length depends on its own address type (IPv4, a name, IPv6). Every
 * reply code becomes an error of its own class, in plain words.
 *
 * @module
 */
import { parseIPv4, parseIPv6Groups } from "./_ip.ts";
import { readUpTo, writeAll } from "./_io.ts";
import { proxyError, quoteBytes } from "./_proxy_io.ts";

/** The target as the proxy is to reach it. */
export interface SocksTarget {
  /** An IPv4 or IPv6 address (no brackets, no zone id), or a host name. */
  hostname: string;
  /** The target's port. */
  port: number;
}

const VERSION = 5;
const NO_AUTHENTICATION = 0x00;
const USER_PASSWORD = 0x02;
const NO_ACCEPTABLE_METHOD = 0xff;
const CONNECT = 1;
const ATYP_IPV4 = 1;
const ATYP_NAME = 3;
const ATYP_IPV6 = 4;

type ErrorClass = new (message: string, options?: ErrorOptions) => Error;

/** RFC 1928 section 6: each reply code, its class and what it means. */
const REPLIES: Record<number, [ErrorClass, string]> = {
  1: [Deno.errors.ConnectionAborted, "reported a general failure"],
  2: [
    Deno.errors.PermissionDenied,
    "does not allow this connection (its rules forbid it)",
  ],
  3: [Deno.errors.NetworkUnreachable, "cannot reach the target's network"],
  4: [Deno.errors.NetworkUnreachable, "cannot reach the target host"],
  5: [
    Deno.errors.ConnectionRefused,
    "was refused by the target (nothing listens there)",
  ],
  6: [Deno.errors.TimedOut, "gave up reaching the target (TTL expired)"],
  7: [Deno.errors.NotSupported, "does not support the CONNECT command"],
  8: [
    Deno.errors.NotSupported,
    "does not support the target's address type",
  ],
};

/** The address part of a request: its type and bytes. */
function encodeTarget(hostname: string): Uint8Array {
  const ipv4 = parseIPv4(hostname);
  if (ipv4 !== undefined) {
    return Uint8Array.of(ATYP_IPV4, ...hostname.split(".").map(Number));
  }
  const groups = parseIPv6Groups(hostname);
  if (groups !== undefined) {
    return Uint8Array.of(
      ATYP_IPV6,
      ...groups.flatMap((group) => [group >> 8, group & 0xff]),
    );
  }
  const name = new TextEncoder().encode(hostname);
  return Uint8Array.of(ATYP_NAME, name.length, ...name);
}

function checkVersion(reply: Uint8Array, proxy: string, step: string): void {
  if (reply.length < 2) {
    throw proxyError(
      Deno.errors.UnexpectedEof,
      proxy,
      `closed the connection ${step}`,
    );
  }
  if (reply[0] !== VERSION) {
    throw proxyError(
      Deno.errors.InvalidData,
      proxy,
      `does not speak SOCKS5: it answered ${quoteBytes(reply)}${
        reply[0] === 0x48 ? " (HTTP: use an http:// proxy URL)" : ""
      }`,
    );
  }
}

async function authenticate(
  conn: Deno.Conn,
  auth: { username: string; password: string },
  proxy: string,
): Promise<void> {
  const encoder = new TextEncoder();
  const user = encoder.encode(auth.username);
  const password = encoder.encode(auth.password);
  await writeAll(
    conn,
    Uint8Array.of(1, user.length, ...user, password.length, ...password),
  );
  const reply = await readUpTo(conn, 2);
  if (reply.length < 2 || reply[1] !== 0) {
    // Some proxies (microsocks) close without a status on wrong credentials.
    throw proxyError(
      Deno.errors.PermissionDenied,
      proxy,
      `rejected the user name ${
        JSON.stringify(auth.username)
      } and its password${
        reply.length < 2 ? " (it closed the connection)" : ""
      }`,
    );
  }
}

/** Greets the proxy, offering user and password only when there are some. */
async function negotiateMethod(
  conn: Deno.Conn,
  auth: { username: string; password: string } | undefined,
  proxy: string,
): Promise<void> {
  const methods = auth === undefined
    ? [NO_AUTHENTICATION]
    : [NO_AUTHENTICATION, USER_PASSWORD];
  await writeAll(conn, Uint8Array.of(VERSION, methods.length, ...methods));
  const reply = await readUpTo(conn, 2);
  checkVersion(reply, proxy, "before choosing an authentication method");
  const method = reply[1];
  if (method === NO_ACCEPTABLE_METHOD) {
    throw proxyError(
      Deno.errors.PermissionDenied,
      proxy,
      auth === undefined
        ? "requires authentication: put user:password@ in the proxy URL"
        : "accepts neither user name and password nor no authentication",
    );
  }
  if (!methods.includes(method)) {
    throw proxyError(
      Deno.errors.InvalidData,
      proxy,
      `chose authentication method ${method}, which was not offered`,
    );
  }
  if (method === USER_PASSWORD) await authenticate(conn, auth!, proxy);
}

/** Reads the CONNECT reply exactly, whatever its address type. */
async function readConnectReply(conn: Deno.Conn, proxy: string) {
  // VER REP RSV ATYP and the first byte of BND.ADDR (a name's length).
  const head = await readUpTo(conn, 5);
  checkVersion(head, proxy, "before answering the CONNECT request");
  const code = head[1];
  if (code !== 0) {
    const [kind, what] = REPLIES[code] ??
      [Deno.errors.ConnectionAborted, "refused with an unassigned reply code"];
    throw proxyError(kind, proxy, `${what} (SOCKS5 reply ${code})`);
  }
  if (head.length < 5) {
    throw proxyError(
      Deno.errors.UnexpectedEof,
      proxy,
      "closed the connection in the middle of its CONNECT reply",
    );
  }
  const rest = head[3] === ATYP_IPV4
    ? 4 - 1 + 2
    : head[3] === ATYP_IPV6
    ? 16 - 1 + 2
    : head[3] === ATYP_NAME
    ? head[4] + 2
    : undefined;
  if (rest === undefined) {
    throw proxyError(
      Deno.errors.InvalidData,
      proxy,
      `answered with the unknown address type ${head[3]}`,
    );
  }
  if ((await readUpTo(conn, rest)).length < rest) {
    throw proxyError(
      Deno.errors.UnexpectedEof,
      proxy,
      "closed the connection in the middle of its CONNECT reply",
    );
  }
}

/**
 * Runs a SOCKS5 CONNECT to `target` over `conn`, a connection to the proxy.
 * Resolves once the proxy's reply is read, with no byte of the target's read.
 *
 * @param proxy How messages name the proxy, e.g. `the SOCKS5 proxy 127.0.0.1:1080`.
 */
export async function socks5Connect(
  conn: Deno.Conn,
  target: SocksTarget,
  auth: { username: string; password: string } | undefined,
  proxy: string,
): Promise<void> {
  await negotiateMethod(conn, auth, proxy);
  const port = Uint8Array.of(target.port >> 8, target.port & 0xff);
  await writeAll(
    conn,
    Uint8Array.of(
      VERSION,
      CONNECT,
      0,
      ...encodeTarget(target.hostname),
      ...port,
    ),
  );
  await readConnectReply(conn, proxy);
}
