/**
 * A connector's `proxy` option: where it may be used (the active side, TCP,
 * the built-in transport, no client certificate) and the transport it
 * becomes.
 *
 * @module
 */
import type { ConnectorOptions } from "./_options.ts";
import { type ProxyTransport, proxyTransport } from "./proxy.ts";
import type { TlsOptions } from "./tls.ts";
import { InvalidOptionError } from "./errors.ts";

/** A validated `proxy` option. */
export interface ProxyOption {
  /** The transport that dials through the proxy. */
  transport: ProxyTransport;
  /** Throws when the TLS options cannot work through a proxy. */
  checkTls(tls: Readonly<TlsOptions> | undefined): void;
}

function refuse(what: string): never {
  throw new InvalidOptionError("proxy", what);
}

/**
 * Checks `options.proxy` against the rest of the options.
 *
 * @param handshakeTimeout Bounds the proxy's answer when there is no `timeout`.
 * @throws {TypeError} On a proxy for a passive connector, a unix socket or a
 * custom transport, or a URL of another form.
 * @throws {RangeError} On a proxy port out of range.
 */
export function parseProxyOption(
  options: ConnectorOptions,
  mode: "active" | "passive",
  handshakeTimeout: number,
): ProxyOption | undefined {
  if (options.proxy === undefined) return undefined;
  if (mode === "passive") {
    refuse(
      "it applies to active connectors only (a passive connector cannot listen through a SOCKS5 or HTTP CONNECT proxy)",
    );
  }
  if (options.path !== undefined) {
    refuse('it cannot be combined with "path" (a proxy reaches TCP targets)');
  }
  if (options.transport !== undefined) {
    refuse(
      'it cannot be combined with "transport" (the proxy is the transport; use proxyTransport() to build one)',
    );
  }
  if (options.host?.includes("%")) {
    refuse(
      'an IPv6 "host" with a zone id cannot be reached through a proxy (the zone means nothing to it)',
    );
  }
  const transport = proxyTransport(options.proxy, {
    handshakeTimeout: options.timeout === undefined
      ? handshakeTimeout
      : undefined,
  });
  return {
    transport,
    checkTls(tls) {
      if (tls?.cert !== undefined || tls?.certFile !== undefined) {
        refuse(
          "it cannot be combined with a client certificate: TLS through a proxy starts with Deno.startTls, which cannot send one (denoland/deno#21496)",
        );
      }
    },
  };
}
