/**
 * Proxies as transports: {@linkcode proxyTransport} dials a SOCKS5 proxy
 * (RFC 1928, with RFC 1929 user and password) or an HTTP proxy (CONNECT,
 * with Basic authentication), asks it for the target, and resolves the real
 * `Deno.TcpConn` once the proxy's reply is read. The reply is read exactly,
 * never a byte beyond it, so the target's first bytes stay in the socket for
 * the caller, and TLS (`Deno.startTls`, which needs the real `TcpConn`) and
 * the secret exchange run on top as they do on a direct connection.
 *
 * A {@linkcode Connector} builds one from its `proxy` option. The URL forms:
 *
 * - `socks5://[user:password@]host:port`: this side resolves the target's
 *   name (which needs net access to that name for the lookup);
 * - `socks5h://[user:password@]host:port`: the proxy resolves it;
 * - `http://[user:password@]host[:port]`: CONNECT (port 80 by default).
 *
 * A proxied connection needs net access to the proxy alone
 * ({@linkcode ProxyTransport.permissions}); no message, echo or permission
 * ever shows the password.
 *
 * @module
 */
import { closeQuietly, raceAbortClosing, SetupScope } from "./_abort.ts";
import { withContext } from "./_errors.ts";
import { parseIPv4, parseIPv6Groups } from "./_ip.ts";
import { httpConnect } from "./_http_connect.ts";
import {
  parseProxyUrl,
  type ProxyScheme,
  type ProxyUrl,
} from "./_proxy_url.ts";
import { socks5Connect } from "./_socks5.ts";
import { missingPermissionError } from "./permissions.ts";
import {
  type ConnectorTransport,
  denoTransport,
  type TransportAddress,
} from "./transport.ts";

export type { ProxyScheme } from "./_proxy_url.ts";

/** Options of {@linkcode proxyTransport}. */
export interface ProxyOptions {
  /**
   * Milliseconds the proxy gets to answer, once the connection to it is
   * open (default: no bound other than the caller's signal). A
   * {@linkcode Connector} without a `timeout` passes its `handshakeTimeout`.
   */
  handshakeTimeout?: number;
}

/** A transport that reaches its target through a proxy. */
export interface ProxyTransport extends ConnectorTransport {
  /** `"socks5"`, `"socks5h"` or `"http"`. */
  readonly scheme: ProxyScheme;
  /** The proxy's `host:port`. */
  readonly endpoint: string;
  /** The proxy URL with its password replaced by `[redacted]`. */
  readonly url: string;
  /**
   * Dials the proxy, asks it for `address` (TCP only) and resolves the
   * connection to the target once the proxy's reply is read.
   */
  connect(
    address: TransportAddress,
    signal: AbortSignal,
  ): Promise<Deno.TcpConn>;
  /**
   * Net access to the proxy; with `socks5://` and a target given by name,
   * also to that name (this side looks it up).
   */
  permissions(
    address: TransportAddress,
    mode: "active" | "passive",
  ): Deno.PermissionDescriptor[];
}

const LABELS: Record<ProxyScheme, string> = {
  socks5: "SOCKS5",
  socks5h: "SOCKS5",
  http: "HTTP",
};

function isAddress(hostname: string): boolean {
  return parseIPv4(hostname) !== undefined ||
    parseIPv6Groups(hostname) !== undefined;
}

/** `socks5://`: this side looks the target's name up (getaddrinfo). */
async function resolveLocally(hostname: string, proxy: string) {
  const descriptor = { name: "net", host: hostname } as const;
  if (Deno.permissions.querySync(descriptor).state !== "granted") {
    throw missingPermissionError([descriptor]);
  }
  const { lookup } = await import("node:dns/promises");
  try {
    return (await lookup(hostname)).address;
  } catch (error) {
    throw new Deno.errors.NotFound(
      `Cannot resolve ${
        JSON.stringify(hostname)
      } on this side for ${proxy} (socks5:// resolves names locally; socks5h:// lets the proxy resolve them): ${
        (error as Error).message
      }`,
    );
  }
}

/** The SOCKS5 or CONNECT exchange over an open connection to the proxy. */
async function askProxy(
  conn: Deno.Conn,
  proxy: ProxyUrl,
  target: { hostname: string; port: number },
  name: string,
): Promise<void> {
  if (proxy.scheme === "http") {
    await httpConnect(conn, target, proxy.auth, name);
    return;
  }
  const hostname = proxy.scheme === "socks5" && !isAddress(target.hostname)
    ? await resolveLocally(target.hostname, name)
    : target.hostname;
  await socks5Connect(conn, { hostname, port: target.port }, proxy.auth, name);
}

/**
 * A transport that reaches every target through one proxy (Go's
 * `golang.org/x/net/proxy` is the model). Pass it as a connector's
 * `transport`, or give the connector the `proxy` option, which also keeps
 * TLS and the secret exchange working through it.
 *
 * @example Through a SOCKS5 proxy that lets the proxy resolve names
 * ```ts
 * import { Connector, proxyTransport } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * const proxy = proxyTransport("socks5h://alice:secret@127.0.0.1:1080");
 * assertEquals(proxy.url, "socks5h://alice:[redacted]@127.0.0.1:1080");
 *
 * // The option does the same, and TLS and a secret work through it.
 * const connector = new Connector({
 *   host: "example.com",
 *   port: 7000,
 *   proxy: "socks5h://alice:secret@127.0.0.1:1080",
 *   tls: true,
 * });
 * assertEquals(connector.permissions, [{ name: "net", host: "127.0.0.1:1080" }]);
 * ```
 *
 * @param proxy A URL: `socks5://`, `socks5h://` or `http://`, with an
 * optional `user:password@`, a host and a port.
 * @param options See {@linkcode ProxyOptions}.
 * @returns The transport.
 * @throws {TypeError} On a URL of another form, naming what is accepted
 * (never the password).
 * @throws {RangeError} On a port out of range or SOCKS5 credentials longer
 * than 255 bytes.
 */
export function proxyTransport(
  proxy: string | URL,
  options: ProxyOptions = {},
): ProxyTransport {
  const parsed = parseProxyUrl(proxy);
  const name = `the ${LABELS[parsed.scheme]} proxy ${parsed.endpoint}`;
  const { handshakeTimeout } = options;
  return Object.freeze({
    // microsocks, tinyproxy and ncat close both directions when one side
    // half-closes: an encrypted stream ends each direction with its end
    // record alone and closes once both have ended (as through a relay).
    halfClose: false,
    scheme: parsed.scheme,
    endpoint: parsed.endpoint,
    url: parsed.redacted,
    async connect(
      address: TransportAddress,
      signal: AbortSignal,
    ): Promise<Deno.TcpConn> {
      if (address.transport !== "tcp") {
        throw new TypeError(
          `${name} reaches TCP targets only, not the unix socket ${address.path}`,
        );
      }
      let conn: Deno.TcpConn;
      try {
        conn = await denoTransport.connect!(
          { transport: "tcp", hostname: parsed.hostname, port: parsed.port },
          signal,
        ) as Deno.TcpConn;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (error instanceof Deno.errors.NotCapable) throw error;
        throw withContext(error, `cannot reach ${name}`);
      }
      using scope = new SetupScope(
        [signal],
        handshakeTimeout,
        () =>
          new Deno.errors.TimedOut(
            `${name} did not answer within ${handshakeTimeout} ms`,
          ),
      );
      try {
        await raceAbortClosing(
          conn,
          askProxy(conn, parsed, address, name),
          scope.signal,
        );
        return conn;
      } catch (error) {
        closeQuietly(conn);
        throw scope.signal.aborted ? scope.signal.reason : error;
      }
    },
    permissions(address: TransportAddress): Deno.PermissionDescriptor[] {
      const descriptors: Deno.PermissionDescriptor[] = [
        { name: "net", host: parsed.endpoint },
      ];
      if (
        parsed.scheme === "socks5" && address.transport === "tcp" &&
        !isAddress(address.hostname)
      ) {
        descriptors.push({ name: "net", host: address.hostname });
      }
      return descriptors;
    },
  });
}
