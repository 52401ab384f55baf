/**
 * The options of a {@linkcode Connector} (their types, re-exported by
 * `connect.ts`) and their validation: every option checked once, in the
 * constructor, before anything is opened, with errors that name the option
 * and what it accepts; and the exact permissions the options need.
 *
 * @module
 */
import { resolve } from "@std/path/resolve";
import { formatHostPort } from "./address.ts";
import { type AllowList, parseAllowList } from "./_allow.ts";
import { InvalidOptionError, OptionRangeError } from "./errors.ts";
import { unknownKey } from "./_keys.ts";
import { parseHost } from "./_ip.ts";
import {
  parseSecretOption,
  secretPermissions,
  type SecretSource,
} from "./auth.ts";
import type { ConnectorPermission } from "./permissions.ts";
import { parseTlsOption, tlsFilePaths, type TlsOptions } from "./tls.ts";
import { parseProxyOption, type ProxyOption } from "./_proxy_option.ts";
import {
  type ConnectorTransport,
  denoTransport,
  type TransportAddress,
} from "./transport.ts";
import type { SecretOption } from "./auth.ts";
import {
  parseRelayOption,
  type RelayOptions,
  relayTransport,
} from "./relay.ts";

/** `"active"` connects to the counterpart; `"passive"` waits for it. */
export type ConnectorMode = "active" | "passive";

/** A peer a passive connector turned away, as given to `onRejectedPeer`. */
export interface RejectedPeer {
  /** The peer's address (`host:port` or a socket path), if it was accepted. */
  address: string | undefined;
  /** Why it was turned away, in one line. */
  reason: string;
  /** The error behind the reason. */
  error: unknown;
}

/** How an active connector retries a refused connection. */
export interface RetryOptions {
  /** Total number of connection attempts, the first included (≥ 1). */
  attempts: number;
  /** Milliseconds to wait after the first refusal; doubles after each one. */
  delay: number;
  /** Upper bound for the wait between attempts (default: no bound). */
  maxDelay?: number;
}

/** Options of a {@linkcode Connector}. */
export interface ConnectorOptions {
  /** `"active"` (default, as in Tcllib) or `"passive"`. */
  mode?: ConnectorMode;
  /**
   * Active: the host to connect to (default `"localhost"`). Passive: the
   * address to bind (default `"0.0.0.0"`, all IPv4 interfaces).
   */
  host?: string;
  /** Active: 1–65535, required. Passive: 0–65535, default 0 (the system picks). */
  port?: number;
  /** A unix socket path, instead of `host` and `port`. */
  path?: string;
  /**
   * Milliseconds. Active: the whole `connect()`, retries and handshakes
   * included. Passive: the wait for the counterpart in `connect()`.
   */
  timeout?: number;
  /** Aborts `connect()`; it rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Active only: retry refused connections with exponential backoff. */
  retry?: RetryOptions;
  /**
   * Passive only: IP addresses and CIDR ranges that may connect. Any other
   * peer is closed at once and the wait goes on.
   */
  allow?: string[];
  /** The socket layer (Tcllib's `-socketcmd`); {@linkcode denoTransport} by default. */
  transport?: ConnectorTransport;
  /**
   * Active only: reach the counterpart through a proxy,
   * `socks5://[user:password@]host:port` (this side resolves the target's
   * name), `socks5h://...` (the proxy resolves it) or
   * `http://[user:password@]host:port` (CONNECT). TLS and the secret
   * exchange run through it; the connector then needs net access to the
   * proxy only. Not with a client certificate (see docs/proxy.md).
   */
  proxy?: string | URL;
  /** TLS: `true` (active, system roots) or {@linkcode TlsOptions}. TCP only. */
  tls?: boolean | TlsOptions;
  /**
   * Passive: milliseconds a peer gets to complete the TLS handshake and
   * the secret exchange before it is dropped and the wait goes on (default
   * 10000). Active: the bound on its own TLS handshake and secret exchange
   * when no `timeout` is given (same default).
   */
  handshakeTimeout?: number;
  /**
   * A shared secret of any length, a short code included (or `{ file }` /
   * `{ env }` to read it from): both sides prove they hold it with a
   * password-authenticated key exchange (CPace) before `connect()` resolves;
   * a passive connector drops peers that fail and keeps waiting.
   */
  secret?: SecretOption;
  /**
   * With `secret`: announce, inside the authenticated exchange, that this
   * side runs the CLI's delivery confirmation (`--confirm`) after the data.
   * Nobody between the sides can add or strip the announcement unnoticed;
   * {@linkcode Connector.peerConfirmsDelivery} tells what the peer announced.
   */
  confirmDelivery?: boolean;
  /**
   * With `secret`: encrypt and authenticate the stream after the exchange
   * with its key (AES-256-GCM records, see {@linkcode EncryptedConn}):
   * `connect()` then resolves an `EncryptedConn`. Default: `true` with
   * `secret` and without `tls`; with `tls`, TLS protects the stream.
   * `false` is the opt-out: the secret only authenticates the peer and the
   * bytes after the exchange travel as they are. Both sides must agree: a
   * mismatch fails on both sides, saying what to change.
   */
  encrypt?: boolean;
  /**
   * Passive only: called for each peer turned away (not allowed, failed TLS
   * handshake or secret exchange, too slow), as it happens.
   */
  onRejectedPeer?: (peer: RejectedPeer) => void;
  /** Ask for missing permissions with Deno's prompt instead of failing. */
  requestPermissions?: boolean;
  /**
   * Meet the counterpart through a magic-wormhole transit relay instead of
   * connecting to it or listening on a port (both modes): `{ host, port,
   * channel }`, where `channel` is public and both sides name the same one.
   * Requires `secret`; replaces `host`, `port`, `path`, `transport`, `tls`
   * and `allow`. See docs/relay.md.
   */
  relay?: RelayOptions;
}

const OPTION_NAMES = [
  "mode",
  "host",
  "port",
  "path",
  "timeout",
  "signal",
  "retry",
  "allow",
  "transport",
  "proxy",
  "tls",
  "handshakeTimeout",
  "secret",
  "confirmDelivery",
  "encrypt",
  "requestPermissions",
  "onRejectedPeer",
  "relay",
] as const;
const RETRY_NAMES = ["attempts", "delay", "maxDelay"] as const;
/** Without `retry`: one attempt (frozen, so every connector can share it). */
const NO_RETRY: Readonly<Required<RetryOptions>> = Object.freeze({
  attempts: 1,
  delay: 0,
  maxDelay: 0,
});
const MAX_TIMER = 2_147_483_647;
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

function checkMilliseconds(value: unknown, name: string, zero = false): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Invalid option "${name}": expected a number of milliseconds, got ${typeof value}`,
    );
  }
  if (
    Number.isNaN(value) || value < 0 || (value === 0 && !zero) ||
    (value > MAX_TIMER && value !== Infinity)
  ) {
    throw new OptionRangeError(
      name,
      `${value} is out of range; expected ${
        zero ? "0" : "1"
      } to ${MAX_TIMER} milliseconds, or Infinity`,
    );
  }
  return value;
}

function checkPort(value: unknown, mode: ConnectorMode): number {
  const min = mode === "active" ? 1 : 0;
  if (typeof value !== "number") {
    throw new TypeError(
      `Invalid option "port": expected an integer from ${min} to 65535, got ${typeof value}`,
    );
  }
  if (!Number.isInteger(value) || value < min || value > 65535) {
    throw new OptionRangeError(
      "port",
      `${value} is not an integer from ${min} to 65535${
        mode === "passive" ? " (0: the system picks)" : ""
      }`,
    );
  }
  return value;
}

function checkRetry(value: unknown): Readonly<Required<RetryOptions>> {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      'Invalid option "retry": expected { attempts, delay, maxDelay? }',
    );
  }
  const retry = value as Record<string, unknown>;
  const key = unknownKey(retry, RETRY_NAMES);
  if (key !== undefined) {
    throw new TypeError(
      `Unknown retry option "${key}": expected attempts, delay or maxDelay`,
    );
  }
  if (typeof retry.attempts !== "number") {
    throw new TypeError(
      'Invalid option "retry.attempts": expected an integer ≥ 1 (total attempts)',
    );
  }
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1) {
    throw new OptionRangeError(
      "retry.attempts",
      `${retry.attempts} is not an integer ≥ 1 (total attempts)`,
    );
  }
  const delay = checkMilliseconds(retry.delay, "retry.delay", true);
  const maxDelay = retry.maxDelay === undefined
    ? Infinity
    : checkMilliseconds(retry.maxDelay, "retry.maxDelay", true);
  if (maxDelay < delay) {
    throw new OptionRangeError(
      "retry.maxDelay",
      `${maxDelay} is less than retry.delay (${delay})`,
    );
  }
  return Object.freeze({ attempts: retry.attempts, delay, maxDelay });
}

function checkBoolean(name: string): (value: unknown) => void {
  return (value) => {
    if (typeof value !== "boolean") {
      throw new TypeError(`Invalid option "${name}": expected a boolean`);
    }
  };
}

/**
 * The options whose value can be checked alone, each with its checker; it
 * throws if the value is not accepted. How they combine with the other
 * options is checked apart, by the rules below.
 */
const VALUE_CHECKERS = {
  timeout: (value: unknown) => void checkMilliseconds(value, "timeout"),
  signal: (value: unknown) => {
    if (!(value instanceof AbortSignal)) {
      throw new TypeError('Invalid option "signal": expected an AbortSignal');
    }
  },
  confirmDelivery: checkBoolean("confirmDelivery"),
  encrypt: checkBoolean("encrypt"),
  onRejectedPeer: (value: unknown) => {
    if (typeof value !== "function") {
      throw new TypeError(
        'Invalid option "onRejectedPeer": expected a function (peer) => void',
      );
    }
  },
  requestPermissions: checkBoolean("requestPermissions"),
} as const satisfies Partial<
  Record<keyof ConnectorOptions, (value: unknown) => void>
>;

/** Runs the checker of each named option that is given, in this order. */
function checkValues(
  options: ConnectorOptions,
  names: readonly (keyof typeof VALUE_CHECKERS)[],
): void {
  for (const name of names) {
    if (options[name] !== undefined) VALUE_CHECKERS[name](options[name]);
  }
}

/** The options that apply to one mode only: that mode, and why. */
const ONE_MODE_OPTIONS = {
  retry: ["active", "a passive connector waits; use timeout"],
  allow: ["passive", "it filters incoming peers"],
  onRejectedPeer: ["passive", "they turn peers away"],
} as const satisfies Partial<
  Record<keyof ConnectorOptions, readonly [ConnectorMode, string]>
>;

/** Throws if the option is given to a connector of the other mode. */
function checkModeOf(
  options: ConnectorOptions,
  name: keyof typeof ONE_MODE_OPTIONS,
  mode: ConnectorMode,
): void {
  const [only, why] = ONE_MODE_OPTIONS[name];
  if (options[name] !== undefined && mode !== only) {
    throw new TypeError(
      `Invalid option "${name}": it applies to ${only} connectors only (${why})`,
    );
  }
}

/** The options a relay replaces, each with what follows the common reason. */
const REPLACED_BY_RELAY = {
  host: "",
  port: "",
  path: "",
  transport: "",
  tls: "; the stream is protected with the secret's key instead",
  allow: ", so every peer has the relay's address",
} as const;

/** The options a unix socket path excludes, each with what a socket lacks. */
const EXCLUDED_BY_PATH = {
  host: "host",
  port: "port",
  allow: "peer IP address",
  tls: "TLS support here",
} as const;

function checkNames(options: ConnectorOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "Invalid options: expected an object such as { mode, host, port }",
    );
  }
  const key = unknownKey(options, OPTION_NAMES);
  if (key !== undefined) {
    throw new TypeError(
      `Unknown option "${key}": expected one of ${OPTION_NAMES.join(", ")}`,
    );
  }
}

function checkMode(value: unknown): ConnectorMode {
  const mode = value === undefined ? "active" : value;
  if (mode !== "active" && mode !== "passive") {
    throw new TypeError(
      `Invalid mode ${JSON.stringify(mode)}: expected "active" or "passive"`,
    );
  }
  return mode;
}

/** Where the connector connects or listens, and how people write it. */
interface Place {
  address: TransportAddress;
  endpoint: string;
}

function relayPlace(
  options: ConnectorOptions,
  relay: Readonly<RelayOptions>,
): Place {
  for (const [key, why] of Object.entries(REPLACED_BY_RELAY)) {
    if (options[key as keyof typeof REPLACED_BY_RELAY] !== undefined) {
      throw new TypeError(
        `Invalid option "${key}": it cannot be combined with "relay" (both sides dial the relay${why})`,
      );
    }
  }
  return {
    address: { transport: "tcp", hostname: relay.host, port: relay.port },
    endpoint: `channel ${relay.channel} through the relay at ${
      formatHostPort(relay.host, relay.port)
    }`,
  };
}

function unixPlace(options: ConnectorOptions): Place {
  if (typeof options.path !== "string" || options.path === "") {
    throw new TypeError('Invalid option "path": expected a unix socket path');
  }
  for (const [key, lacking] of Object.entries(EXCLUDED_BY_PATH)) {
    if (options[key as keyof typeof EXCLUDED_BY_PATH] !== undefined) {
      throw new TypeError(
        `Invalid option "${key}": it cannot be combined with "path" (a unix socket has no ${lacking})`,
      );
    }
  }
  const path = resolve(options.path);
  return { address: { transport: "unix", path }, endpoint: path };
}

function checkHost(value: unknown): string {
  if (typeof value !== "string") {
    throw new TypeError(
      `Invalid option "host": expected a host name or IP address, got ${
        value === null ? "null" : typeof value
      }`,
    );
  }
  const parsed = parseHost(value);
  if (parsed === undefined) {
    throw new TypeError(
      `Invalid option "host": ${
        JSON.stringify(value)
      } is not a host name or IP address; expected a name such as example.com, an IPv4 address such as 127.0.0.1, or an IPv6 address such as ::1 or [::1] (the port goes in "port")`,
    );
  }
  return parsed.hostname;
}

function tcpPlace(options: ConnectorOptions, mode: ConnectorMode): Place {
  const passive = mode === "passive";
  const hostname = checkHost(
    options.host === undefined
      ? (passive ? "0.0.0.0" : "localhost")
      : options.host,
  );
  if (!passive && options.port === undefined) {
    throw new TypeError(
      'Missing option "port": an active connector needs the port of its counterpart (1-65535)',
    );
  }
  const port = checkPort(options.port === undefined ? 0 : options.port, mode);
  return {
    address: { transport: "tcp", hostname, port },
    endpoint: formatHostPort(hostname, port),
  };
}

/** The transport the options name or imply, checked for the mode. */
function chooseTransport(
  options: ConnectorOptions,
  mode: ConnectorMode,
  relay: Readonly<RelayOptions> | undefined,
  proxy: ProxyOption | undefined,
  handshakeTimeout: number,
): ConnectorTransport {
  if (relay !== undefined && proxy !== undefined) {
    throw new TypeError(
      'Invalid options "relay" and "proxy": a relay is dialled directly; give one of them',
    );
  }
  const transport = relay !== undefined
    ? relayTransport({
      ...relay,
      // Without a timeout the active side waits at the relay as long as it
      // would wait for a handshake: the listener should be there already.
      pairingWait: mode === "passive" || options.timeout !== undefined
        ? undefined
        : handshakeTimeout,
    })
    : proxy?.transport ??
      (options.transport === undefined ? denoTransport : options.transport);
  const needed = mode === "passive" ? "listen" : "connect";
  if (
    typeof transport !== "object" || transport === null ||
    typeof transport[needed] !== "function"
  ) {
    throw new TypeError(
      `Invalid option "transport": a ${mode} connector needs an object with a ${needed}() method`,
    );
  }
  return transport;
}

/** The `tls` option, checked against the transport, address and proxy. */
function parseTls(
  options: ConnectorOptions,
  mode: ConnectorMode,
  address: TransportAddress,
  proxy: ProxyOption | undefined,
): Readonly<TlsOptions> | undefined {
  const tls = parseTlsOption(options.tls, mode);
  if (tls !== undefined && options.transport !== undefined) {
    throw new TypeError(
      'Invalid option "transport": it cannot be combined with "tls" (TLS runs over the built-in TCP transport)',
    );
  }
  if (
    tls?.hostname !== undefined &&
    (tls.cert !== undefined || tls.certFile !== undefined) &&
    address.transport === "tcp" &&
    tls.hostname !== address.hostname
  ) {
    throw new InvalidOptionError(
      "tls.hostname",
      `it must be the host dialled ("${address.hostname}") when a client certificate is presented: Deno.connectTls cannot verify another name`,
    );
  }
  if (proxy !== undefined) proxy.checkTls(tls);
  return tls;
}

/** The `secret` option, and the options that need it or must not lack it. */
function parseSecret(
  options: ConnectorOptions,
  relay: Readonly<RelayOptions> | undefined,
): SecretSource | undefined {
  const secretSource = parseSecretOption(options.secret);
  if (relay !== undefined && secretSource === undefined) {
    throw new TypeError(
      'Invalid option "relay": it needs "secret": nothing is relayed in clear text (both sides prove the secret and the stream is encrypted with its key)',
    );
  }
  if (relay !== undefined && options.encrypt === false) {
    throw new TypeError(
      'Invalid option "encrypt": false cannot be combined with "relay": nothing is relayed in clear text',
    );
  }
  checkValues(options, ["confirmDelivery"]);
  if (options.confirmDelivery !== undefined && secretSource === undefined) {
    throw new InvalidOptionError(
      "confirmDelivery",
      'it is announced inside the secret exchange, so it needs "secret"',
    );
  }
  checkValues(options, ["encrypt"]);
  if (options.encrypt !== undefined && secretSource === undefined) {
    throw new TypeError(
      'Invalid option "encrypt": the stream is encrypted with the key of the secret exchange, so it needs "secret" (or use tls)',
    );
  }
  return secretSource;
}

/** The options as given, frozen, without secret bytes or proxy password. */
function freezeOptions(
  options: ConnectorOptions,
  relay: Readonly<RelayOptions> | undefined,
  proxy: ProxyOption | undefined,
): Readonly<ConnectorOptions> {
  return Object.freeze({
    ...options,
    ...(options.allow ? { allow: Object.freeze([...options.allow]) } : {}),
    ...(relay ? { relay } : {}),
    // Never keep secret bytes where logging the connector would print them;
    // "[redacted]" is too short to be mistaken for a secret if reused.
    ...(typeof options.secret === "string" ||
        options.secret instanceof Uint8Array
      ? { secret: "[redacted]" }
      : {}),
    // Nor a proxy password.
    ...(proxy !== undefined ? { proxy: proxy.transport.url } : {}),
  }) as Readonly<ConnectorOptions>;
}

/** The options of a connector, validated, with what follows from them. */
export interface ParsedOptions {
  mode: ConnectorMode;
  address: TransportAddress;
  /** The address as people write it: `host:port` or the socket path. */
  endpoint: string;
  transport: ConnectorTransport;
  tls: Readonly<TlsOptions> | undefined;
  secretSource: SecretSource | undefined;
  allow: AllowList | undefined;
  retry: Readonly<Required<RetryOptions>>;
  handshakeTimeout: number;
  /** The relay and channel, when the sides meet through one. */
  relay: Readonly<RelayOptions> | undefined;
  /** The options as given, frozen, with secret bytes redacted. */
  options: Readonly<ConnectorOptions>;
}

/**
 * Checks every option; opens nothing and needs no permission.
 *
 * @throws {TypeError} On an unknown option name, a bad mode, an option of
 * the wrong type or used in the wrong mode.
 * @throws {RangeError} On a port, time or retry count out of range.
 */
export function parseConnectorOptions(
  options: ConnectorOptions,
): ParsedOptions {
  // The checks run in a fixed order: with several bad options, the error
  // is always about the same one.
  checkNames(options);
  const mode = checkMode(options.mode);
  const relay = options.relay === undefined
    ? undefined
    : parseRelayOption(options.relay);
  const { address, endpoint } = relay !== undefined
    ? relayPlace(options, relay)
    : options.path !== undefined
    ? unixPlace(options)
    : tcpPlace(options, mode);
  checkValues(options, ["timeout", "signal"]);
  checkModeOf(options, "retry", mode);
  const retry = options.retry === undefined
    ? NO_RETRY
    : checkRetry(options.retry);
  checkModeOf(options, "allow", mode);
  const allow = options.allow === undefined
    ? undefined
    : parseAllowList(options.allow);
  const handshakeTimeout = options.handshakeTimeout === undefined
    ? DEFAULT_HANDSHAKE_TIMEOUT
    : checkMilliseconds(options.handshakeTimeout, "handshakeTimeout");
  const proxy = parseProxyOption(options, mode, handshakeTimeout);
  const transport = chooseTransport(
    options,
    mode,
    relay,
    proxy,
    handshakeTimeout,
  );
  const tls = parseTls(options, mode, address, proxy);
  const secretSource = parseSecret(options, relay);
  checkValues(options, ["onRejectedPeer"]);
  checkModeOf(options, "onRejectedPeer", mode);
  checkValues(options, ["requestPermissions"]);
  return {
    mode,
    address,
    endpoint,
    transport,
    tls,
    secretSource,
    allow,
    retry,
    handshakeTimeout,
    relay,
    options: freezeOptions(options, relay, proxy),
  };
}

/** Exactly the Deno permissions a connector with these options needs. */
export function connectorPermissions(
  parsed: ParsedOptions,
): ConnectorPermission[] {
  const { address, transport, secretSource } = parsed;
  const files: ConnectorPermission[] = [
    ...tlsFilePaths(parsed.tls).map((path): ConnectorPermission => ({
      name: "read",
      path,
    })),
    ...secretPermissions(secretSource),
  ];
  if (transport !== denoTransport) {
    // A custom transport comes without TLS; a proxy may carry it.
    return [
      ...(transport.permissions?.(address, parsed.mode) ??
        []) as ConnectorPermission[],
      ...files,
    ];
  }
  if (address.transport === "unix") {
    return [
      { name: "read", path: address.path },
      { name: "write", path: address.path },
      { name: "net", host: `unix:${address.path}` },
      ...files,
    ];
  }
  return [{ name: "net", host: parsed.endpoint }, ...files];
}
