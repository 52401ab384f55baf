/**
 * The {@linkcode Connector}: sets up one network connection between two
 * parties, either **active** (it connects to its counterpart) or **passive**
 * (it listens, tells you the port, accepts exactly one counterpart and closes
 * the listening socket at once). What flows afterwards is the caller's
 * business.
 *
 * @module
 */
import { formatAddr } from "./address.ts";
import { closeQuietly, raceAbort, SetupScope } from "./_abort.ts";
import { acceptCounterpart, reportRejected, vetPeer } from "./_accept.ts";
import { rebuildError, withContext } from "./_errors.ts";
import { ConnectorUsedError } from "./errors.ts";
import {
  type ConnectorMode,
  type ConnectorOptions,
  connectorPermissions,
  parseConnectorOptions,
  type RejectedPeer,
  type RetryOptions,
} from "./_options.ts";
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
  type AuthenticationResult,
  resolveSecret,
  type SecretSource,
} from "./auth.ts";
import { EncryptedConn } from "./encrypted.ts";
import { resolveTlsMaterial, type TlsOptions } from "./tls.ts";
import {
  dialWithCertificate,
  dialWithRetry,
  hasClientCertificate,
  secureClient,
} from "./_dial.ts";
import {
  type ConnectorTransport,
  denoTransport,
  type TransportAddress,
} from "./transport.ts";
import { checkedConn, checkedListener } from "./_transport_results.ts";
import { dialDeno } from "./_deno_dial.ts";
import { stdinIsTerminal } from "./_terminal.ts";

export type {
  ConnectorMode,
  ConnectorOptions,
  RejectedPeer,
  RetryOptions,
} from "./_options.ts";

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
  #allow: import("./_allow.ts").AllowList | undefined;
  #retry: Readonly<Required<RetryOptions>>;
  #handshakeTimeout: number;
  #listener: Deno.Listener | undefined;
  #listening: Promise<Deno.Addr> | undefined;
  #listenerOpen = false;
  #connectStarted = false;
  #closed = new AbortController();
  #rejectedPeers = 0;
  #peerConfirmsDelivery = false;
  #encrypt: boolean;
  #descriptorShortages = 0;
  #onRejectedPeer: ((peer: RejectedPeer) => void) | undefined;

  /**
   * Validates the options; needs no permission and opens nothing.
   *
   * @param options See {@linkcode ConnectorOptions}.
   * @throws {TypeError} On an unknown option name, a bad mode, an option of
   * the wrong type or used in the wrong mode.
   * @throws {RangeError} On a port, time or retry count out of range.
   */
  constructor(options: ConnectorOptions) {
    const parsed = parseConnectorOptions(options);
    this.mode = parsed.mode;
    this.options = parsed.options;
    this.#address = parsed.address;
    this.#endpoint = parsed.endpoint;
    this.#transport = parsed.transport;
    this.#tls = parsed.tls;
    this.#secretSource = parsed.secretSource;
    this.#allow = parsed.allow;
    this.#retry = parsed.retry;
    this.#handshakeTimeout = parsed.handshakeTimeout;
    this.#onRejectedPeer = options.onRejectedPeer;
    this.#encrypt = parsed.secretSource !== undefined &&
      (options.encrypt ?? parsed.tls === undefined);
    this.permissions = Object.freeze(connectorPermissions(parsed));
  }

  /**
   * Whether the counterpart announced, inside the secret exchange, that it
   * runs the CLI's delivery confirmation (see `confirmDelivery`); false
   * before `connect()` resolves and without a secret.
   *
   * @example Usage
   * ```ts
   * import { Connector } from "@transfer/connect";
   * import { assert } from "@std/assert";
   *
   * const secret = "42-apple-river";
   * await using passive = new Connector({
   *   mode: "passive",
   *   host: "127.0.0.1",
   *   secret,
   *   confirmDelivery: true,
   * });
   * const { port } = await passive.listen() as Deno.NetAddr;
   * const active = new Connector({ host: "127.0.0.1", port, secret });
   * const [client, server] = await Promise.all([
   *   active.connect(),
   *   passive.connect(),
   * ]);
   * assert(active.peerConfirmsDelivery && !passive.peerConfirmsDelivery);
   * client.close();
   * server.close();
   * ```
   */
  get peerConfirmsDelivery(): boolean {
    return this.#peerConfirmsDelivery;
  }

  /** How many peers a passive connector closed instead of accepting (not allowed, failed handshake). */
  get rejectedPeers(): number {
    return this.#rejectedPeers;
  }

  /**
   * How many times a passive connector's accept failed because descriptors
   * ran out (EMFILE, ENFILE): each time it paused, closed its least
   * promising peer in vetting and waited on.
   */
  get descriptorShortages(): number {
    return this.#descriptorShortages;
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
    if (stdinIsTerminal()) assertPermissionsGranted(this.permissions);
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
   * @throws {TypeError} On an active connector, or when a custom transport's
   * `listen()` returns something that is not a `Deno.Listener`.
   * @throws {Deno.errors.Interrupted} After `close()`.
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
    // A closed connector, or one whose signal has fired, binds nothing and no
    // longer reports the address of a listener it has closed.
    if (this.#closed.signal.aborted) {
      return Promise.reject(this.#closedError());
    }
    if (this.options.signal?.aborted) {
      return Promise.reject(this.options.signal.reason);
    }
    this.#listening ??= this.#bind();
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
        (listener) => this.#adopt(this.#checkedListener(listener)),
        (error) => {
          throw this.#fail(error, `Cannot listen on ${this.#endpoint}`);
        },
      );
    }
    return this.#adopt(this.#checkedListener(listening));
  }

  /** A custom transport's listener, checked; the built-in one is trusted. */
  #checkedListener(listener: unknown): Deno.Listener {
    return this.#transport === denoTransport
      ? listener as Deno.Listener
      : checkedListener(listener, "listen()");
  }

  #adopt(listener: Deno.Listener): Deno.Addr {
    if (this.#closed.signal.aborted) {
      closeQuietly(listener);
      throw this.#closedError();
    }
    this.#listener = listener;
    this.#listenerOpen = true;
    const addr = listener.addr;
    // Through a relay, the endpoint keeps naming the channel and the relay.
    if (this.options.relay === undefined) this.#endpoint = formatAddr(addr);
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
   * import { assertEquals } from "@std/assert";
   *
   * await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
   * const { port } = await passive.listen() as Deno.NetAddr;
   * const waiting = passive.connect();
   * using client = await new Connector({ host: "127.0.0.1", port }).connect();
   * using server = await waiting;
   * // Two ends of one connection.
   * assertEquals(
   *   (server.remoteAddr as Deno.NetAddr).port,
   *   (client.localAddr as Deno.NetAddr).port,
   * );
   * ```
   *
   * @returns The established connection; it belongs to the caller. With
   * `secret` and without `tls` (unless `encrypt: false`): an
   * {@linkcode EncryptedConn}.
   * @throws {Deno.errors.TimedOut} When `timeout` expires, naming the endpoint
   * and the limit.
   * @throws {Deno.errors.Interrupted} When `close()` is called meanwhile.
   * @throws {Deno.errors.NotCapable} Without permission, naming the flags.
   * @throws {ConnectorUsedError} (a `Deno.errors.Busy`) On a second call.
   */
  connect(): Promise<Deno.Conn> {
    if (this.#connectStarted) {
      return Promise.reject(
        new ConnectorUsedError(
          `connect() was already called on the connector for ${this.#endpoint}: a connector sets up one connection; create another connector for another one`,
        ),
      );
    }
    if (this.#closed.signal.aborted) return Promise.reject(this.#closedError());
    this.#connectStarted = true;
    if (this.mode === "passive") {
      return this.#isPlain() && this.#listenerOpen
        ? this.#waitForPeer(this.#closed.signal, undefined)
        : this.#acceptPeer();
    }
    return this.#isPlain() && this.#retry.attempts === 1
      ? this.#dialOnce()
      : this.#connectActive();
  }

  /**
   * Nothing to set up beyond the socket: no TLS, no secret, no prompt, no
   * timeout or signal (only `close()` cancels).
   */
  #isPlain(): boolean {
    return this.#tls === undefined && this.#secretSource === undefined &&
      !this.options.requestPermissions && this.options.timeout === undefined &&
      this.options.signal === undefined;
  }

  /**
   * The plain active path: one dial, no cancellation scope, no retry loop
   * (what {@linkcode Connector.connect} does for it, minus the layers that
   * have nothing to do).
   */
  #dialOnce(): Promise<Deno.Conn> {
    try {
      this.#ensurePermissions();
    } catch (error) {
      return Promise.reject(this.#explainIfDenied(error));
    }
    const signal = this.#closed.signal;
    let dialing: Promise<Deno.Conn>;
    try {
      dialing = this.#dial(undefined, signal);
    } catch (error) {
      dialing = Promise.reject(error); // a transport that throws at once
    }
    return dialing.catch((error) => {
      if (signal.aborted) throw signal.reason;
      throw this.#fail(error, `Cannot connect to ${this.#endpoint}`);
    });
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
      if (this.#secretSource !== undefined) {
        secret = await raceAbort(this.#secretBytes()!, signal);
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw this.#explainIfDenied(error);
    }
    const conn = await dialWithRetry(
      () => this.#dial(material, signal),
      this.#retry,
      this.#address.transport === "unix",
      signal,
      (error, tries) =>
        this.#fail(error, `Cannot connect to ${this.#endpoint}${tries}`),
    );
    if (material === undefined && secret === undefined) return conn;
    // Without a timeout, the handshakes still get a bound: a peer that says
    // nothing must not hold connect() forever.
    using handshake = this.options.timeout === undefined
      ? new SetupScope(
        [signal],
        this.#handshakeTimeout,
        () =>
          new Deno.errors.TimedOut(
            `Timed out after ${this.#handshakeTimeout} ms waiting for the handshake with ${this.#endpoint} (no answer to the TLS handshake or the secret exchange; set timeout to wait longer)`,
          ),
      )
      : undefined;
    return await this.#handshakeClient(
      conn,
      material,
      secret,
      handshake?.signal ?? signal,
    );
  }

  /** The TLS handshake and the secret exchange of an active connector. */
  async #handshakeClient(
    conn: Deno.Conn,
    material: TlsOptions | undefined,
    secret: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<Deno.Conn> {
    if (material !== undefined) {
      conn = await secureClient(conn, material, {
        endpoint: this.#endpoint,
        hostname: (this.#address as { hostname: string }).hostname,
      }, signal);
    }
    if (secret === undefined) return conn;
    try {
      const result = await authenticate(conn, {
        role: "active",
        secret,
        signal,
        confirm: this.options.confirmDelivery,
        encrypt: this.#encrypt,
      });
      this.#peerConfirmsDelivery = result.peerConfirms;
      return await this.#protect(conn, "active", result);
    } catch (error) {
      closeQuietly(conn);
      if (signal.aborted) throw signal.reason;
      // Names the peer and what failed; through a relay, the peer met may
      // also be another pair's listener that picked the same channel.
      if (this.options.relay === undefined) throw error;
      throw rebuildError(
        error,
        `${
          (error as Error).message
        } (met on ${this.#endpoint}: a wrong code, or another pair used this channel)`,
      );
    }
  }

  /** The encrypted stream over `conn` when the exchange agreed on it. */
  async #protect(
    conn: Deno.Conn,
    role: "active" | "passive",
    result: AuthenticationResult,
  ): Promise<Deno.Conn> {
    if (!result.encrypted) return conn;
    return await EncryptedConn.create(conn, { role, ...result }, {
      // The end record ends the stream; a passive side also leaves the
      // socket open until it closes: a proxy it cannot see (tinyproxy) ends
      // both directions on a half-close, cutting off the active side's last
      // records (2 of 12 runs under load). The active side half-closes
      // unless its own transport cannot.
      halfClose: role === "active" && this.#transport.halfClose !== false,
    });
  }

  #dial(
    material: TlsOptions | undefined,
    signal: AbortSignal,
  ): Promise<Deno.Conn> {
    const address = this.#address;
    if (hasClientCertificate(material) && address.transport === "tcp") {
      return dialWithCertificate(address, material!, signal);
    }
    // The built-in dial answers at once on abort itself (one listener).
    if (this.#transport === denoTransport) {
      return dialDeno(address, signal, true);
    }
    const dialing = this.#transport.connect!(address, signal);
    return raceAbort(
      Promise.resolve(dialing).then((conn) => checkedConn(conn, "connect()")),
      signal,
      closeQuietly,
    );
  }

  async #acceptPeer(): Promise<Deno.Conn> {
    using scope = this.#scope("waiting for a counterpart on");
    const { signal } = scope;
    if (signal.aborted) throw signal.reason; // binds nothing
    if (!this.#listenerOpen) {
      try {
        // A custom transport's listen() is bounded by the timeout too.
        await raceAbort(this.listen(), signal);
      } catch (error) {
        if (signal.aborted) this.#listening?.then(() => this.close(), () => {});
        throw error;
      }
    }
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
    return await this.#waitForPeer(signal, secret);
  }

  /** Accepts on the open listener until a peer passes the checks (if any). */
  #waitForPeer(
    signal: AbortSignal,
    secret: Uint8Array | undefined,
  ): Promise<Deno.Conn> {
    const tls = this.#tls !== undefined;
    const confirmDelivery = this.options.confirmDelivery;
    // Only a vetted peer can announce anything: no map without vetting.
    const announced = tls || secret !== undefined
      ? new WeakMap<Deno.Conn, AuthenticationResult>()
      : undefined;
    const encrypt = this.#encrypt;
    const waiting = acceptCounterpart({
      listener: this.#listener!,
      signal,
      allow: this.#allow,
      vet: announced !== undefined
        ? async (conn, signal, onProgress) => {
          const result = await vetPeer(
            conn,
            {
              tls,
              secret,
              timeout: this.#handshakeTimeout,
              confirmDelivery,
              encrypt,
            },
            signal,
            onProgress,
          );
          if (result !== undefined) announced.set(conn, result);
        }
        : undefined,
      handshakeTimeout: this.#handshakeTimeout,
      closeListener: () => this.#closeListener(),
      onRejected: (peer, reason) => this.#reject(peer, reason),
      onExhausted: () => this.#descriptorShortages++,
      acceptError: (error) =>
        this.#fail(error, `Cannot accept on ${this.#endpoint}`),
    });
    if (announced === undefined) return waiting;
    return waiting.then(async (counterpart) => {
      const result = announced.get(counterpart);
      if (result === undefined) return counterpart;
      this.#peerConfirmsDelivery = result.peerConfirms;
      try {
        return await this.#protect(counterpart, "passive", result);
      } catch (error) {
        closeQuietly(counterpart);
        throw error;
      }
    });
  }

  /** Counts a peer turned away and tells `onRejectedPeer`. */
  #reject(peer: Deno.Addr | undefined, error: unknown): void {
    this.#rejectedPeers++;
    if (this.#onRejectedPeer !== undefined) {
      reportRejected(this.#onRejectedPeer, peer, error);
    }
  }

  /**
   * Releases the listener and any pending attempt; a pending `connect()`
   * rejects with `Deno.errors.Interrupted`. Idempotent and safe in every state.
   * A connection already handed to the caller stays open: it is the caller's.
   *
   * @example Usage
   * ```ts
   * import { Connector } from "@transfer/connect";
   * import { assertEquals } from "@std/assert";
   *
   * const passive = new Connector({ mode: "passive", host: "127.0.0.1" });
   * const { port } = await passive.listen() as Deno.NetAddr;
   * passive.close(); // the port is free again
   * passive.close(); // and again: nothing happens
   * using again = Deno.listen({ hostname: "127.0.0.1", port });
   * assertEquals(again.addr.port, port);
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
