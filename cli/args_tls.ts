/**
 * The TLS part of a command line: `--tls` with `--ca`, `--cert`, `--key`,
 * `--servername` and `--alpn`.
 *
 * @module
 */
import type { TlsOptions } from "../mod.ts";
import { type Flags, UsageError } from "./flags.ts";

/** The connector's `tls` option, or undefined without `--tls`. */
export function parseTlsFlags(
  flags: Flags,
  passive: boolean,
): TlsOptions | undefined {
  const tlsFlags = {
    ca: flags.value("ca"),
    cert: flags.value("cert"),
    key: flags.value("key"),
    servername: flags.value("servername"),
  };
  const alpn = flags.values("alpn");
  if (!flags.flag("tls")) {
    const stray = Object.entries(tlsFlags).find(([, given]) =>
      given !== undefined
    )?.[0] ?? (alpn.length > 0 ? "alpn" : undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} needs --tls`);
    return undefined;
  }
  const tls: TlsOptions = {};
  if (tlsFlags.ca !== undefined) tls.caFile = tlsFlags.ca;
  if (tlsFlags.cert !== undefined) tls.certFile = tlsFlags.cert;
  if (tlsFlags.key !== undefined) tls.keyFile = tlsFlags.key;
  if (tlsFlags.servername !== undefined) tls.hostname = tlsFlags.servername;
  if (alpn.length > 0) tls.alpnProtocols = alpn;
  if (passive && (tls.certFile === undefined || tls.keyFile === undefined)) {
    throw new UsageError(
      `"listen --tls" needs --cert FILE and --key FILE (missing ${
        tls.certFile === undefined
          ? tls.keyFile === undefined ? "both" : "--cert"
          : "--key"
      })`,
    );
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new UsageError(
      "a client certificate needs both --cert FILE and --key FILE",
    );
  }
  return tls;
}
