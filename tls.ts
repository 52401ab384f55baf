/**
 * TLS for a {@linkcode Connector}: option validation, PEM files, the fast
 * client path (`Deno.connect` + `setNoDelay(true)` + `Deno.startTls`), the
 * bounded handshake, and errors that say what went wrong in plain words.
 *
 * Trust model: the active side always verifies the passive side's certificate
 * against the system roots plus `caCerts`, for `hostname` (default: `host`);
 * there is no switch to turn verification off. Deno cannot request client
 * certificates on a listener, so a passive TLS connector does not identify its
 * counterpart: combine it with `allow` or `secret` for that.
 *
 * @module
 */
import { raceAbortClosing } from "./_abort.ts";
import { rebuildError, withAdvice } from "./_errors.ts";
import { InvalidOptionError, type OptionAdvice } from "./errors.ts";
import { unknownKey } from "./_keys.ts";
import { accessFile } from "./_files.ts";

/**
 * TLS settings. Active mode: `caCerts`/`caFile` add trusted roots,
 * `hostname` is the name verified and sent as SNI (default: the `host`
 * dialled), `cert`+`key` (or the files) send a client certificate. Passive
 * mode: `cert` and `key` (or `certFile` and `keyFile`) are required.
 */
export interface TlsOptions {
  /** PEM CA certificates trusted in addition to the system roots (active). */
  caCerts?: string[];
  /** A PEM file of CA certificates, read by `connect()` (active). */
  caFile?: string;
  /** The name to verify and send as SNI (active; default: `host`). */
  hostname?: string;
  /** ALPN protocols offered (active) or accepted (passive), in preference order. */
  alpnProtocols?: string[];
  /** PEM certificate chain: the server's (passive) or the client's (active). */
  cert?: string;
  /** PEM private key matching `cert`. */
  key?: string;
  /** A PEM file holding `cert`, read by `listen()`/`connect()`. */
  certFile?: string;
  /** A PEM file holding `key`, read by `listen()`/`connect()`. */
  keyFile?: string;
}

/** Files to read with {@linkcode readTlsFiles}. */
export interface TlsFiles {
  /** A PEM file of CA certificates. */
  caFile?: string;
  /** A PEM certificate chain. */
  certFile?: string;
  /** A PEM private key. */
  keyFile?: string;
}

/** PEM material read by {@linkcode readTlsFiles}. */
export interface TlsMaterial {
  /** The CA certificates found in `caFile`, one PEM block each. */
  caCerts?: string[];
  /** The contents of `certFile`. */
  cert?: string;
  /** The contents of `keyFile`. */
  key?: string;
}

const CERTIFICATE_BLOCK =
  /-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK =
  /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----\r?\n[\s\S]+?-----END \1-----/;

/** The PEM certificate blocks in `text`, in order. */
function certificateBlocks(text: string): string[] {
  return text.match(CERTIFICATE_BLOCK) ?? [];
}

function checkCertificates(text: unknown, what: string): string {
  if (typeof text !== "string" || certificateBlocks(text).length === 0) {
    throw new InvalidOptionError(
      what,
      'expected PEM text with at least one "-----BEGIN CERTIFICATE-----" block',
    );
  }
  return text;
}

function checkKey(text: unknown, what: string): string {
  if (typeof text !== "string" || !KEY_BLOCK.test(text)) {
    throw new InvalidOptionError(
      what,
      'expected a PEM private key ("-----BEGIN PRIVATE KEY-----", RSA or EC)',
    );
  }
  return text;
}

function checkStringList(value: unknown, what: string): string[] {
  if (
    !Array.isArray(value) ||
    value.some((item) => typeof item !== "string" || item === "")
  ) {
    throw new InvalidOptionError(
      what,
      "expected an array of non-empty strings",
    );
  }
  return [...value];
}

function checkPath(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") {
    throw new InvalidOptionError(what, "expected a file path");
  }
  return value;
}

function checkName(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") {
    throw new InvalidOptionError(what, "expected a non-empty string");
  }
  return value;
}

/**
 * One checker per TLS option, in the order they are checked: each returns the
 * value to keep or throws an {@linkcode InvalidOptionError} naming `what`.
 */
const TLS_CHECKERS: {
  readonly [Key in keyof Required<TlsOptions>]: (
    value: unknown,
    what: string,
  ) => TlsOptions[Key];
} = {
  caCerts: (value, what) =>
    checkStringList(value, what).map((pem, index) =>
      checkCertificates(pem, `${what}[${index}]`)
    ),
  caFile: checkPath,
  hostname: checkName,
  alpnProtocols: checkStringList,
  cert: checkCertificates,
  key: checkKey,
  certFile: checkPath,
  keyFile: checkPath,
};
const TLS_KEYS = Object.keys(TLS_CHECKERS) as (keyof TlsOptions)[];
/** The options only the active side uses: it verifies, the passive side presents. */
const ACTIVE_ONLY = ["caCerts", "caFile", "hostname"] as const;

/** The object form of the option: an object with known keys only. */
function checkTlsObject(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(
      "tls",
      "expected true or an object such as { caCerts, hostname } (active) or { cert, key } (passive)",
    );
  }
  const key = unknownKey(value, TLS_KEYS);
  if (key !== undefined) {
    throw new InvalidOptionError(
      "tls",
      `"${key}" is not a TLS option; expected one of ${TLS_KEYS.join(", ")}`,
    );
  }
  return value as Record<string, unknown>;
}

/** Checks that the options fit together, and fit the mode. */
function checkTlsCombination(
  options: TlsOptions,
  mode: "active" | "passive",
): void {
  for (const part of ["cert", "key"] as const) {
    if (options[part] !== undefined && options[`${part}File`] !== undefined) {
      throw new InvalidOptionError(
        "tls",
        `give ${part} or ${part}File, not both`,
      );
    }
  }
  const hasCert = options.cert !== undefined || options.certFile !== undefined;
  const hasKey = options.key !== undefined || options.keyFile !== undefined;
  if (mode === "active") {
    if (hasCert === hasKey) return;
    throw new InvalidOptionError(
      "tls",
      `a client certificate needs both cert and key (missing ${
        hasCert ? "key" : "cert"
      })`,
    );
  }
  if (!hasCert || !hasKey) {
    throw new InvalidOptionError(
      "tls",
      `a passive connector needs both a certificate and a key (missing ${
        hasCert ? "key" : hasKey ? "cert" : "cert and key"
      }; pass { cert, key } or { certFile, keyFile })`,
    );
  }
  const used = ACTIVE_ONLY.find((key) => options[key] !== undefined);
  if (used !== undefined) {
    throw new InvalidOptionError(
      `tls.${used}`,
      "it applies to active connectors only (the passive side presents cert and key)",
    );
  }
}

/**
 * Validates the `tls` option for a mode and returns a frozen copy, or
 * `undefined` when TLS is off. `true` means "verify with the system roots".
 *
 * @throws {InvalidOptionError} (a `TypeError`) On unknown keys, malformed
 * PEM, a missing server certificate or key in passive mode, or an option that
 * the mode cannot use.
 */
export function parseTlsOption(
  value: unknown,
  mode: "active" | "passive",
): Readonly<TlsOptions> | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) {
    if (mode === "passive") {
      throw new InvalidOptionError(
        "tls",
        "a passive connector needs { cert, key } (or { certFile, keyFile }), not true",
      );
    }
    return Object.freeze({});
  }
  const input = checkTlsObject(value);
  const options: Record<string, unknown> = {};
  for (const key of TLS_KEYS) {
    if (input[key] === undefined) continue;
    options[key] = TLS_CHECKERS[key](input[key], `tls.${key}`);
  }
  checkTlsCombination(options, mode);
  return Object.freeze(options);
}

/** The files a TLS configuration makes the connector read. */
export function tlsFilePaths(
  options: Readonly<TlsOptions> | undefined,
): string[] {
  if (options === undefined) return [];
  return [options.caFile, options.certFile, options.keyFile].filter(
    (path): path is string => path !== undefined,
  );
}

async function readPem(
  path: string,
  kind: string,
  valid: (text: string) => boolean,
): Promise<string> {
  const text = await accessFile(
    "read",
    `the ${kind} file`,
    path,
    () => Deno.readTextFile(path),
  );
  if (!valid(text)) {
    throw new Deno.errors.InvalidData(
      `The ${kind} file "${path}" holds no PEM ${kind} block: expected "-----BEGIN ${
        kind === "private key" ? "PRIVATE KEY" : "CERTIFICATE"
      }-----"`,
    );
  }
  return text;
}

/**
 * Reads PEM files for TLS: a CA bundle, a certificate chain and a private key.
 *
 * @example Usage
 * ```ts ignore
 * import { Connector, readTlsFiles } from "@transfer/connect";
 *
 * const { caCerts } = await readTlsFiles({ caFile: "ca.pem" });
 * const connector = new Connector({ host: "example.com", port: 443, tls: { caCerts } });
 * ```
 *
 * @param files The files to read; each is optional.
 * @returns The PEM texts; `caCerts` holds one certificate per element.
 * @throws {Deno.errors.NotCapable} Without read permission, naming the exact
 * `--allow-read=<path>` flag.
 * @throws {Deno.errors.NotFound} When a file does not exist.
 * @throws {Deno.errors.InvalidData} When a file holds no PEM block of the
 * expected kind, naming the file.
 */
export async function readTlsFiles(files: TlsFiles): Promise<TlsMaterial> {
  const material: TlsMaterial = {};
  const isCertificate = (text: string) => certificateBlocks(text).length > 0;
  if (files.caFile !== undefined) {
    const text = await readPem(files.caFile, "certificate", isCertificate);
    material.caCerts = certificateBlocks(text);
  }
  if (files.certFile !== undefined) {
    material.cert = await readPem(files.certFile, "certificate", isCertificate);
  }
  if (files.keyFile !== undefined) {
    material.key = await readPem(
      files.keyFile,
      "private key",
      (text) => KEY_BLOCK.test(text),
    );
  }
  return material;
}

/** TLS options with any files already read into PEM text. */
export async function resolveTlsMaterial(
  options: Readonly<TlsOptions>,
): Promise<TlsOptions> {
  const material = await readTlsFiles(options);
  return {
    ...options,
    caCerts: [...(options.caCerts ?? []), ...(material.caCerts ?? [])],
    cert: options.cert ?? material.cert,
    key: options.key ?? material.key,
  };
}

/**
 * Rewrites a TLS failure in words a user understands, keeping its class:
 * unknown issuer, name mismatch, expiry, ALPN mismatch, a peer that does not
 * speak TLS.
 *
 * @param error What Deno threw.
 * @param endpoint The peer, e.g. `127.0.0.1:7000`.
 * @param expectedName The name verified (active side), if any.
 * @returns An error of the same class with a clear message and the original as
 * `cause`.
 */
export function explainTlsError(
  error: unknown,
  endpoint: string,
  expectedName?: string,
): unknown {
  if (!(error instanceof Error)) return error;
  const message = error.message;
  const failed = `TLS handshake with ${endpoint} failed`;
  const validFor = /certificate is only valid for (.+)$/.exec(message)?.[1]
    ?.replace(/(?:DnsName|IpAddress)\(([^)]*)\)/g, "$1");
  let advice: OptionAdvice | undefined;
  let explained: string;
  if (/UnknownIssuer/.test(message)) {
    advice = {
      problem:
        `${failed}: its certificate is not signed by a trusted CA (unknown issuer)`,
      action: "add the CA with",
      option: "tls.caCerts",
    };
  } else if (/NoApplicationProtocol|no_application_protocol/i.test(message)) {
    advice = {
      problem: `${failed}: no common ALPN protocol`,
      action: "offer one the peer accepts in",
      option: "tls.alpnProtocols",
    };
  } else if (/not valid for name/.test(message)) {
    advice = {
      problem: `${failed}: its certificate is not valid for the name "${
        expectedName ?? "?"
      }"${validFor ? ` (it is valid for ${validFor})` : ""}`,
      action: "dial that name or set",
      option: "tls.hostname",
    };
  }
  if (advice !== undefined) {
    explained = `${advice.problem}; ${advice.action} ${advice.option}`;
  } else if (/[Ee]xpired/.test(message)) {
    explained = `${failed}: its certificate has expired`;
  } else if (/NotValidYet/.test(message)) {
    explained = `${failed}: its certificate is not valid yet`;
  } else if (/InvalidContentType|corrupt message/.test(message)) {
    explained =
      `${failed}: the peer does not speak TLS (it answered in plain text)`;
  } else if (/CaUsedAsEndEntity/.test(message)) {
    explained =
      `${failed}: its certificate is a CA certificate used as a server certificate; issue a leaf certificate (basicConstraints CA:FALSE)`;
  } else {
    explained = `${failed}: ${message}`;
  }
  const rebuilt = rebuildError(error, explained);
  return advice === undefined ? rebuilt : withAdvice(rebuilt, advice);
}

/**
 * Completes a TLS handshake, closing the connection (which interrupts the
 * handshake) when `signal` aborts, and returns the negotiated info.
 */
export function completeHandshake(
  conn: Deno.TlsConn,
  signal: AbortSignal,
): Promise<Deno.TlsHandshakeInfo> {
  return raceAbortClosing(conn, conn.handshake(), signal);
}
