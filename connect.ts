/**
 * The {@linkcode Connector}: sets up one network connection between two
 * parties, either **active** (it connects to its counterpart) or **passive**
 * (it listens, tells you the port, accepts exactly one counterpart and closes
 * the listening socket at once). What flows afterwards is the caller's
 * business.
 *
 * @module
 */
import { formatAddr, formatHostPort } from "./address.ts";
import { closeQuietly, raceAbort, SetupScope, sleep } from "./abort.ts";
import { isAllowed, parseAllowList } from "./allow.ts";
import { withContext } from "./errors.ts";
import {
  assertPermissionsGranted,
  type ConnectorPermission,
  explainDenial,
  type PermissionReport,
  queryPermissions,
  requestPermissions,
} from "./permissions.ts";
import {
  authenticate,
  parseSecretOption,
  resolveSecret,
  type SecretOption,
  secretPermissions,
  type SecretSource,
} from "./auth.ts";
import {
  completeHandshake,
  explainTlsError,
  parseTlsOption,
  resolveTlsMaterial,
  tlsFilePaths,
  type TlsOptions,
} from "./tls.ts";
import {
  type ConnectorTransport,
  denoTransport,
  type TransportAddress,
} from "./transport.ts";

/** `"active"` connects to the counterpart; `"passive"` waits for it. */
export type ConnectorMode = "active" | "passive";

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
  /** TLS: `true` (active, system roots) or {@linkcode TlsOptions}. TCP only. */
  tls?: boolean | TlsOptions;
  /**
   * Passive only: milliseconds a peer gets to complete the TLS handshake and
   * the secret exchange before it is dropped and the wait goes on (default
   * 10000).
   */
  handshakeTimeout?: number;
  /**
   * A shared secret (≥ 16 bytes, or `{ file }` / `{ env }` to read it from):
   * both sides prove they hold it before `connect()` resolves; a passive
   * connector drops peers that fail and keeps waiting.
   */
  secret?: SecretOption;
  /** Ask for missing permissions with Deno's prompt instead of failing. */
  requestPermissions?: boolean;
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
  "tls",
  "handshakeTimeout",
  "secret",
  "requestPermissions",
] as const;
const RETRY_NAMES = ["attempts", "delay", "maxDelay"] as const;
const MAX_TIMER = 2_147_483_647;
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** Peers vetted at once by a passive connector; the oldest is dropped beyond. */
const MAX_PENDING_PEERS = 64;

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
    throw new RangeError(
      `Invalid option "${name}": ${value} is out of range; expected ${
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
    throw new RangeError(
      `Invalid option "port": ${value} is not an integer from ${min} to 65535${
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
  for (const key of Object.keys(retry)) {
    if (!(RETRY_NAMES as readonly string[]).includes(key)) {
      throw new TypeError(
        `Unknown retry option "${key}": expected attempts, delay or maxDelay`,
      );
    }
  }
  if (typeof retry.attempts !== "number") {
    throw new TypeError(
      'Invalid option "retry.attempts": expected an integer ≥ 1 (total attempts)',
    );
  }
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1) {
    throw new RangeError(
      `Invalid option "retry.attempts": ${retry.attempts} is not an integer ≥ 1 (total attempts)`,
    );
  }
  const delay = checkMilliseconds(retry.delay, "retry.delay", true);
  const maxDelay = retry.maxDelay === undefined
    ? Infinity
    : checkMilliseconds(retry.maxDelay, "retry.maxDelay", true);
  if (maxDelay < delay) {
    throw new RangeError(
      `Invalid option "retry.maxDelay": ${maxDelay} is less than retry.delay (${delay})`,
    );
  }
  return Object.freeze({ attempts: retry.attempts, delay, maxDelay });
}

function absolutePath(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/**
 * Sets up one connection, actively or passively, over TCP, TLS or a unix
 * socket, then gets out of the way: `connect()` resolves a `Deno.Conn` that
 * belongs to the caller.
 *
 * @example Both sides in one process
 * ```ts
 * import { Connector } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
 * const { port } = await passive.listen() as Deno.NetAddr; // tell the counterpart
 *
 * const active = new Connector({ host: "127.0.0.1", port });
 * const [client, server] = await Promise.all([active.connect(), passive.connect()]);
 *
 * await client.write(new TextEncoder().encode("hi"));
 * const buffer = new Uint8Array(2);
 * assertEquals(await server.read(buffer), 2);
 * client.close();
 * server.close();
 * ```
 */
export class Connector implements Disposable, AsyncDisposable {
  /** The options as given, validated and frozen. */
  readonly options: Readonly<ConnectorOptions>;
  /** `"active"` or `"passive"`. */
  readonly mode: ConnectorMode;
  /** Exactly the Deno permissions `listen()`/`connect()` need. */
  readonly permissions: readonly ConnectorPermission[];

  #address: TransportAddress;
  #endpoint: string;
  #transport: ConnectorTransport;
  #tls: Readonly<TlsOptions> | undefined;
  #secretSource: SecretSource | undefined;
  #secret: Promise<Uint8Array> | undefined;
  #allow: readonly string[] | undefined;
  #retry: Readonly<Required<RetryOptions>>;
  #handshakeTimeout: number;
  #listener: Deno.Listener | undefined;
  #listening: Promise<Deno.Addr> | undefined;
  #listenerOpen = false;
  #connectStarted = false;
  #closed = new AbortController();
  #rejectedPeers = 0;

  /**
   * Validates the options; needs no permission and opens nothing.
   *
   * @param options See {@linkcode ConnectorOptions}.
   * @throws {TypeError} On an unknown option name, a bad mode, an option of
   * the wrong type or used in the wrong mode.
   * @throws {RangeError} On a port, time or retry count out of range.
   */
  constructor(options: ConnectorOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        "Invalid options: expected an object such as { mode, host, port }",
      );
    }
    for (const key of Object.keys(options)) {
      if (!(OPTION_NAMES as readonly string[]).includes(key)) {
        throw new TypeError(
          `Unknown option "${key}": expected one of ${OPTION_NAMES.join(", ")}`,
        );
      }
    }
    const mode = options.mode === undefined ? "active" : options.mode;
    if (mode !== "active" && mode !== "passive") {
      throw new TypeError(
        `Invalid mode ${JSON.stringify(mode)}: expected "active" or "passive"`,
      );
    }
    this.mode = mode;
    const passive = mode === "passive";

    if (options.path !== undefined) {
      if (typeof options.path !== "string" || options.path === "") {
        throw new TypeError(
          'Invalid option "path": expected a unix socket path',
        );
      }
      for (const key of ["host", "port", "allow", "tls"] as const) {
        if (options[key] !== undefined) {
          throw new TypeError(
            `Invalid option "${key}": it cannot be combined with "path" (a unix socket has no ${
              key === "allow"
                ? "peer IP address"
                : key === "tls"
                ? "TLS support here"
                : key
            })`,
          );
        }
      }
      this.#address = { transport: "unix", path: absolutePath(options.path) };
      this.#endpoint = this.#address.path;
    } else {
      const host = options.host === undefined
        ? (passive ? "0.0.0.0" : "localhost")
        : options.host;
      if (typeof host !== "string" || host === "") {
        throw new TypeError(
          'Invalid option "host": expected a host name or IP address',
        );
      }
      if (!passive && options.port === undefined) {
        throw new TypeError(
          'Missing option "port": an active connector needs the port of its counterpart (1-65535)',
        );
      }
      const port = checkPort(
        options.port === undefined ? 0 : options.port,
        mode,
      );
      const hostname = host.startsWith("[") && host.endsWith("]")
        ? host.slice(1, -1)
        : host;
      this.#address = { transport: "tcp", hostname, port };
      this.#endpoint = formatHostPort(hostname, port);
    }

    if (options.timeout !== undefined) {
      checkMilliseconds(options.timeout, "timeout");
    }
    if (
      options.signal !== undefined && !(options.signal instanceof AbortSignal)
    ) {
      throw new TypeError('Invalid option "signal": expected an AbortSignal');
    }
    if (options.retry !== undefined && passive) {
      throw new TypeError(
        'Invalid option "retry": it applies to active connectors only (a passive connector waits; use timeout)',
      );
    }
    this.#retry = options.retry === undefined
      ? Object.freeze({ attempts: 1, delay: 0, maxDelay: 0 })
      : checkRetry(options.retry);
    if (options.allow !== undefined && !passive) {
      throw new TypeError(
        'Invalid option "allow": it applies to passive connectors only (it filters incoming peers)',
      );
    }
    this.#allow = options.allow === undefined
      ? undefined
      : Object.freeze(parseAllowList(options.allow));
    if (options.handshakeTimeout !== undefined && !passive) {
      throw new TypeError(
        'Invalid option "handshakeTimeout": it applies to passive connectors only (an active connector bounds its whole setup with timeout)',
      );
    }
    this.#handshakeTimeout = options.handshakeTimeout === undefined
      ? DEFAULT_HANDSHAKE_TIMEOUT
      : checkMilliseconds(options.handshakeTimeout, "handshakeTimeout");

    const transport = options.transport === undefined
      ? denoTransport
      : options.transport;
    const needed = passive ? "listen" : "connect";
    if (
      typeof transport !== "object" || transport === null ||
      typeof transport[needed] !== "function"
    ) {
      throw new TypeError(
        `Invalid option "transport": a ${mode} connector needs an object with a ${needed}() method`,
      );
    }
    this.#transport = transport;
    this.#tls = parseTlsOption(options.tls, mode);
    if (this.#tls !== undefined && options.transport !== undefined) {
      throw new TypeError(
        'Invalid option "transport": it cannot be combined with "tls" (TLS runs over the built-in TCP transport)',
      );
    }
    if (
      this.#tls?.hostname !== undefined &&
      (this.#tls.cert !== undefined || this.#tls.certFile !== undefined) &&
      this.#address.transport === "tcp" &&
      this.#tls.hostname !== this.#address.hostname
    ) {
      throw new TypeError(
        'Invalid option "tls.hostname": with a client certificate the verified name must be the host dialled (Deno.connectTls cannot verify another name)',
      );
    }
    this.#secretSource = parseSecretOption(options.secret);
    if (
      options.requestPermissions !== undefined &&
      typeof options.requestPermissions !== "boolean"
    ) {
      throw new TypeError(
        'Invalid option "requestPermissions": expected a boolean',
      );
    }

    this.permissions = Object.freeze(this.#computePermissions());
    this.options = Object.freeze({
      ...options,
      ...(options.allow ? { allow: Object.freeze([...options.allow]) } : {}),
      // Never keep secret bytes where logging the connector would print them;
      // "[redacted]" is too short to be mistaken for a secret if reused.
      ...(typeof options.secret === "string" ||
          options.secret instanceof Uint8Array
        ? { secret: "[redacted]" }
        : {}),
    }) as Readonly<ConnectorOptions>;
  }

  #computePermissions(): ConnectorPermission[] {
    const address = this.#address;
    if (this.#transport !== denoTransport) {
      return [
        ...(this.#transport.permissions?.(address, this.mode) ??
          []) as ConnectorPermission[],
        ...secretPermissions(this.#secretSource),
      ];
    }
    const files: ConnectorPermission[] = [
      ...tlsFilePaths(this.#tls).map((path): ConnectorPermission => ({
        name: "read",
        path,
      })),
      ...secretPermissions(this.#secretSource),
    ];
    if (address.transport === "unix") {
      return [
        { name: "read", path: address.path },
        { name: "write", path: address.path },
        { name: "net", host: `unix:${address.path}` },
        ...files,
      ];
    }
    return [{ name: "net", host: this.#endpoint }, ...files];
  }

  /** How many peers a passive connector closed instead of accepting (not allowed, failed handshake). */
  get rejectedPeers(): number {
    return this.#rejectedPeers;
  }

  /**
   * Reports, without prompting, which of {@linkcode Connector.permissions}
   * are granted, with the flag for each.
   *
   * @example Usage
   * ```ts
   * import { Connector } from "@transfer/connect";
   * import { assertEquals } from "@std/assert";
   *
   * const connector = new Connector({ host: "127.0.0.1", port: 7000 });
   * const [report] = connector.queryPermissions();
   * assertEquals(report.flag, "--allow-net=127.0.0.1:7000");
   * ```
   *
   * @returns One report per permission.
   */
  queryPermissions(): PermissionReport[] {
    return queryPermissions(this.permissions);
  }

  /**
   * One check up front: never a prompt (unless asked for), and every missing
   * flag in one error. Synchronous unless prompting was asked for, so the
   * common path adds no turn of the event loop.
   */
  #ensurePermissions(): Promise<void> | undefined {
    if (this.options.requestPermissions) {
      return requestPermissions(this.permissions);
    }
    // Deno can only prompt when stdin is a terminal; elsewhere its own check
    // throws NotCapable, which #fail turns into the same all-flags error.
    if (Deno.stdin.isTerminal()) assertPermissionsGranted(this.permissions);
  }

  /** The secret's bytes, read once (file or environment) and shared by both uses. */
  #secretBytes(): Promise<Uint8Array> | undefined {
    if (this.#secretSource === undefined) return undefined;
    this.#secret ??= resolveSecret(this.#secretSource);
    return this.#secret;
  }

  /** A permission failure explained with every missing flag; other errors as they are. */
  #explainIfDenied(error: unknown): unknown {
    return error instanceof Deno.errors.NotCapable
      ? explainDenial(this.permissions, error)
      : error;
  }

  /** A permission failure explained; any other error with `context` in front. */
  #fail(error: unknown, context: string): unknown {
    return error instanceof Deno.errors.NotCapable
      ? explainDenial(this.permissions, error)
      : withContext(error, context);
  }

  #closedError(): Error {
    return new Deno.errors.Interrupted(
      `Connector for ${this.#endpoint} was closed before a connection was set up`,
    );
  }

  /**
   * Binds the listening socket of a passive connector. Idempotent: later calls
   * resolve with the same address.
   *
   * @example Usage
   * ```ts
   * import { Connector } from "@transfer/connect";
   * import { assert } from "@std/assert";
   *
   * await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
   * const addr = await passive.listen() as Deno.NetAddr;
   * assert(addr.port > 0);
   * ```
   *
   * @returns The bound address; with port 0, `port` is the real one.
   * @throws {TypeError} On an active connector.
   * @throws {Deno.errors.NotCapable} Without net permission, naming the flag.
   * @throws {Deno.errors.AddrInUse} When the port is taken, naming the endpoint.
   */
  listen(): Promise<Deno.Addr> {
    if (this.mode !== "passive") {
      return Promise.reject(
        new TypeError(
          "listen() is for passive connectors: an active connector connects to its counterpart with connect()",
        ),
      );
    }
    if (this.#listening === undefined) {
      if (this.#closed.signal.aborted) {
        return Promise.reject(this.#closedError());
      }
      this.#listening = this.#bind();
    }
    return this.#listening;
  }

  #bind(): Promise<Deno.Addr> {
    // Plain TCP or unix without TLS, secret or prompt binds at once: no await.
    if (
      this.#tls === undefined && this.#secretSource === undefined &&
      !this.options.requestPermissions
    ) {
      try {
        this.#ensurePermissions();
        return Promise.resolve(this.#open(undefined));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#prepareAndBind();
  }

  async #prepareAndBind(): Promise<Deno.Addr> {
    let material: TlsOptions | undefined;
    try {
      await this.#ensurePermissions();
      await this.#secretBytes(); // a missing secret fails before the port is taken
      if (this.#tls !== undefined) {
        material = await resolveTlsMaterial(this.#tls);
      }
    } catch (error) {
      throw this.#explainIfDenied(error);
    }
    return await this.#open(material);
  }

  /** Opens the listener (TLS when `material` is given) and adopts it. */
  #open(material: TlsOptions | undefined): Deno.Addr | Promise<Deno.Addr> {
    let listening: Deno.Listener | Promise<Deno.Listener>;
    try {
      listening = material !== undefined && this.#address.transport === "tcp"
        ? Deno.listenTls({
          hostname: this.#address.hostname,
          port: this.#address.port,
          cert: material.cert!,
          key: material.key!,
          alpnProtocols: material.alpnProtocols,
        })
        : this.#transport.listen!(this.#address);
    } catch (error) {
      throw this.#fail(error, `Cannot listen on ${this.#endpoint}`);
    }
    if (listening instanceof Promise) {
      return listening.then(
        (listener) => this.#adopt(listener),
        (error) => {
          throw this.#fail(error, `Cannot listen on ${this.#endpoint}`);
        },
      );
    }
    return this.#adopt(listening);
  }

  #adopt(listener: Deno.Listener): Deno.Addr {
    if (this.#closed.signal.aborted) {
      closeQuietly(listener);
      throw this.#closedError();
    }
    this.#listener = listener;
    this.#listenerOpen = true;
    const addr = listener.addr;
    this.#endpoint = formatAddr(addr);
    return addr;
  }

  #closeListener(): void {
    if (this.#listenerOpen && this.#listener !== undefined) {
      this.#listenerOpen = false;
      closeQuietly(this.#listener);
    }
  }

  /**
   * Sets up the connection. Active: connects (with retry, timeout and signal)
   * and completes the TLS handshake if any. Passive: listens if not yet,
   * waits for the first allowed counterpart that completes its handshake,
   * closes the listening socket at once. A connector sets up one connection:
   * a second call rejects and leaves the first intact.
   *
   * @example Usage
   * ```ts
   * import { Connector } from "@transfer/connect";
   *
   * await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
   * const { port } = await passive.listen() as Deno.NetAddr;
   * const waiting = passive.connect();
   * using client = await new Connector({ host: "127.0.0.1", port }).connect();
   * using server = await waiting;
   * ```
   *
   * @returns The established connection; it belongs to the caller.
   * @throws {Deno.errors.TimedOut} When `timeout` expires, naming the endpoint
   * and the limit.
   * @throws {Deno.errors.Interrupted} When `close()` is called meanwhile.
   * @throws {Deno.errors.NotCapable} Without permission, naming the flags.
   * @throws {Deno.errors.Busy} On a second call.
   */
  connect(): Promise<Deno.Conn> {
    if (this.#connectStarted) {
      return Promise.reject(
        new Deno.errors.Busy(
          `connect() was already called on the connector for ${this.#endpoint}: a connector sets up one connection; create another connector for another one`,
        ),
      );
    }
    if (this.#closed.signal.aborted) return Promise.reject(this.#closedError());
    this.#connectStarted = true;
    return this.mode === "active" ? this.#connectActive() : this.#acceptPeer();
  }

  #scope(action: string): { signal: AbortSignal } & Disposable {
    const timeout = this.options.timeout;
    if (timeout === undefined && this.options.signal === undefined) {
      // Only close() can cancel: its own signal serves, nothing to release.
      return { signal: this.#closed.signal, [Symbol.dispose]() {} };
    }
    return new SetupScope(
      [this.options.signal, this.#closed.signal],
      timeout,
      () =>
        new Deno.errors.TimedOut(
          `Timed out after ${timeout} ms ${action} ${this.#endpoint}`,
        ),
    );
  }

  async #connectActive(): Promise<Deno.Conn> {
    using scope = this.#scope("connecting to");
    const { signal } = scope;
    let material: TlsOptions | undefined;
    let secret: Uint8Array | undefined;
    try {
      const asking = this.#ensurePermissions();
      if (asking !== undefined) await asking;
      if (this.#tls !== undefined) {
        material = await resolveTlsMaterial(this.#tls);
      }
      if (this.#secretSource !== undefined) secret = await this.#secretBytes();
    } catch (error) {
      throw this.#explainIfDenied(error);
    }
    let conn = await this.#dialWithRetry(material, signal);
    if (material !== undefined) {
      conn = await this.#secureClient(conn, material, signal);
    }
    if (secret === undefined) return conn;
    try {
      await authenticate(conn, "active", secret, signal);
    } catch (error) {
      closeQuietly(conn);
      if (signal.aborted) throw signal.reason;
      throw error; // names the peer and what failed
    }
    return conn;
  }

  /** Dials until connected, retrying while nobody listens yet. */
  async #dialWithRetry(
    material: TlsOptions | undefined,
    signal: AbortSignal,
  ): Promise<Deno.Conn> {
    let delay = this.#retry.delay;
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#dial(material, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        // Nobody listening yet: a refused TCP port, or a unix socket file
        // that does not exist yet.
        const refused = error instanceof Deno.errors.ConnectionRefused ||
          (this.#address.transport === "unix" &&
            error instanceof Deno.errors.NotFound);
        if (!refused || attempt >= this.#retry.attempts) {
          const tries = attempt > 1 ? ` (after ${attempt} attempts)` : "";
          throw this.#fail(
            error,
            `Cannot connect to ${this.#endpoint}${tries}`,
          );
        }
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, this.#retry.maxDelay);
    }
  }

  #dial(
    material: TlsOptions | undefined,
    signal: AbortSignal,
  ): Promise<Deno.Conn> {
    const address = this.#address;
    if (
      material?.cert !== undefined && material.key !== undefined &&
      address.transport === "tcp"
    ) {
      // A client certificate needs Deno.connectTls (startTls cannot send one).
      return raceAbort(
        Deno.connectTls({
          hostname: address.hostname,
          port: address.port,
          caCerts: material.caCerts,
          alpnProtocols: material.alpnProtocols,
          cert: material.cert,
          key: material.key,
        }),
        signal,
        closeQuietly,
      );
    }
    return raceAbort(
      this.#transport.connect!(address, signal),
      signal,
      closeQuietly,
    );
  }

  async #secureClient(
    conn: Deno.Conn,
    material: TlsOptions,
    signal: AbortSignal,
  ): Promise<Deno.TlsConn> {
    const address = this.#address as { hostname: string };
    const hostname = material.hostname ?? address.hostname;
    let tlsConn: Deno.TlsConn;
    if ("handshake" in conn) {
      tlsConn = conn as Deno.TlsConn;
    } else {
      const tcp = conn as Deno.TcpConn;
      tcp.setNoDelay(true);
      try {
        tlsConn = await Deno.startTls(tcp, {
          hostname,
          caCerts: material.caCerts,
          alpnProtocols: material.alpnProtocols,
        });
      } catch (error) {
        closeQuietly(tcp);
        throw explainTlsError(error, this.#endpoint, hostname);
      }
    }
    try {
      await completeHandshake(tlsConn, signal);
      return tlsConn;
    } catch (error) {
      closeQuietly(tlsConn);
      if (signal.aborted) throw signal.reason;
      throw explainTlsError(error, this.#endpoint, hostname);
    }
  }

  /** Runs the checks a candidate peer must pass before it becomes the counterpart. */
  async #vetPeer(
    conn: Deno.Conn,
    secret: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    using scope = new SetupScope(
      [signal],
      this.#handshakeTimeout,
      () =>
        new Deno.errors.TimedOut(
          `Handshake with ${formatAddr(conn.remoteAddr)} timed out`,
        ),
    );
    if (this.#tls !== undefined) {
      await completeHandshake(conn as Deno.TlsConn, scope.signal);
    }
    if (secret !== undefined) {
      await authenticate(conn, "passive", secret, scope.signal);
    }
  }

  async #acceptPeer(): Promise<Deno.Conn> {
    using scope = this.#scope("waiting for a counterpart on");
    const { signal } = scope;
    if (!this.#listenerOpen) await this.listen();
    let secret: Uint8Array | undefined;
    if (this.#secretSource !== undefined) {
      try {
        secret = await this.#secretBytes();
      } catch (error) {
        this.#closeListener();
        throw this.#explainIfDenied(error);
      }
    }
    if (signal.aborted) {
      this.#closeListener();
      throw signal.reason;
    }
    const listener = this.#listener!;
    const pending = new Set<Deno.Conn>();
    const vetting = this.#tls !== undefined || secret !== undefined;
    return await new Promise<Deno.Conn>((resolve, reject) => {
      let settled = false;
      // The accept in flight: a listener with a pending accept is only really
      // closed once that accept has settled, so results wait for it.
      let accepting: Promise<unknown> = Promise.resolve();
      const finish = (report: () => void) => {
        settled = true;
        signal.removeEventListener("abort", onAbort);
        this.#closeListener();
        for (const conn of pending) closeQuietly(conn);
        pending.clear();
        accepting.then(report, report);
      };
      const onAbort = () => {
        if (!settled) finish(() => reject(signal.reason));
      };
      const win = (conn: Deno.Conn) => {
        if (settled) return closeQuietly(conn);
        pending.delete(conn);
        finish(() => resolve(conn));
      };
      const drop = (conn: Deno.Conn) => {
        pending.delete(conn);
        closeQuietly(conn);
        this.#rejectedPeers++;
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const acceptLoop = async () => {
        while (!settled) {
          let conn: Deno.Conn;
          try {
            const accepted = listener.accept();
            accepting = accepted;
            conn = await accepted;
          } catch (error) {
            if (settled) return;
            accepting = Promise.resolve();
            if (
              error instanceof Deno.errors.NotConnected ||
              error instanceof Deno.errors.ConnectionReset ||
              error instanceof Deno.errors.ConnectionAborted
            ) {
              // The peer reset before it was accepted: it is gone, wait on.
              this.#rejectedPeers++;
              continue;
            }
            const failure = this.#fail(
              error,
              `Cannot accept on ${this.#endpoint}`,
            );
            finish(() => reject(failure));
            return;
          }
          accepting = Promise.resolve();
          if (settled) return closeQuietly(conn);
          if (
            this.#allow !== undefined &&
            !isAllowed(conn.remoteAddr, this.#allow)
          ) {
            drop(conn);
            continue;
          }
          if (!vetting) return win(conn);
          pending.add(conn);
          if (pending.size > MAX_PENDING_PEERS) {
            drop(pending.values().next().value!);
          }
          this.#vetPeer(conn, secret, signal).then(
            () => win(conn),
            () => {
              if (pending.has(conn)) drop(conn);
            },
          );
        }
      };
      acceptLoop();
    });
  }

  /**
   * Releases the listener and any pending attempt; a pending `connect()`
   * rejects with `Deno.errors.Interrupted`. Idempotent and safe in every state.
   * A connection already handed to the caller stays open: it is the caller's.
   *
   * @example Usage
   * ```ts
   * import { Connector } from "@transfer/connect";
   *
   * const passive = new Connector({ mode: "passive", host: "127.0.0.1" });
   * await passive.listen();
   * passive.close(); // the port is free again
   * passive.close(); // and again: nothing happens
   * ```
   */
  close(): void {
    if (!this.#closed.signal.aborted) this.#closed.abort(this.#closedError());
    this.#closeListener();
  }

  /** Same as {@linkcode Connector.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Same as {@linkcode Connector.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
