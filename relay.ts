/**
 * Meeting through magic-wormhole's transit relay: a
 * {@linkcode ConnectorTransport} for two sides that can only dial out.
 *
 * Both sides dial the relay and register with `please relay TOKEN for side
 * SIDE\n`; the relay answers `ok\n` to both once two registrations with the
 * same token and different sides are there, then passes bytes through. The
 * token is derived from a public channel only (never from the secret), so
 * neither the relay's operator nor anyone watching can test a guess of the
 * secret offline. After `ok` each side sends one role byte (active or
 * passive): the relay pairs any two sides, and two listeners (or two
 * connectors) of different pairs that picked the same channel must not wait
 * on each other. The design and its arithmetic are in docs/relay.md.
 *
 * The active side's `connect()` resolves with the paired connection; the
 * passive side's `listen()` registers once and returns a `Deno.Listener`
 * whose `accept()` resolves when paired and registers again when the relay
 * drops an unpaired wait or after a peer was turned away, so that a
 * {@linkcode Connector}'s accept → vet → turn away → wait again works as it
 * does on a port. Paired connections are the sockets to the relay: their
 * `remoteAddr`, like the listener's `addr`, is the relay's address.
 *
 * @module
 */
import { closeQuietly, raceAbortClosing, SetupScope, sleep } from "./_abort.ts";
import { readUpTo, writeAll } from "./_io.ts";
import { unknownKey } from "./_keys.ts";
import { formatHostPort } from "./address.ts";
import { parseHost } from "./_ip.ts";
import { OptionRangeError } from "./errors.ts";
import {
  type ConnectorTransport,
  denoTransport,
  type TransportAddress,
} from "./transport.ts";

/** Where two sides meet: a magic-wormhole transit relay and a public channel. */
export interface RelayOptions {
  /** The relay's host name or IP address. */
  host: string;
  /** The relay's TCP port, 1–65535. */
  port: number;
  /**
   * The channel both sides name: public (the relay and anyone watching may
   * learn it), so it must never hold the secret or part of it. The CLI uses
   * the number in front of a code.
   */
  channel: string;
}

/** What {@linkcode relayTransport} needs besides the relay and channel. */
export interface RelayTransportOptions extends RelayOptions {
  /**
   * Active side: milliseconds to wait at the relay for the passive side
   * (default: no bound besides the caller's signal).
   */
  pairingWait?: number;
}

const RELAY_NAMES = ["host", "port", "channel"] as const;
/** The longest channel, in characters. */
const MAX_CHANNEL_LENGTH = 256;

/**
 * Validates the `relay` option of a connector: `{ host, port, channel }`.
 * Returns a frozen copy with the host unbracketed.
 *
 * @throws {TypeError} On a missing or malformed field, or an unknown one.
 * @throws {RangeError} On a port out of range or a channel too long.
 */
export function parseRelayOption(value: unknown): Readonly<RelayOptions> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      'Invalid option "relay": expected { host, port, channel } (a magic-wormhole transit relay and the public channel both sides name)',
    );
  }
  const relay = value as Record<string, unknown>;
  const key = unknownKey(relay, RELAY_NAMES);
  if (key !== undefined) {
    throw new TypeError(
      `Unknown relay option "${key}": expected host, port or channel`,
    );
  }
  const host = typeof relay.host === "string"
    ? parseHost(relay.host)
    : undefined;
  if (host === undefined) {
    throw new TypeError(
      `Invalid option "relay.host": expected the relay's host name or IP address, got ${
        JSON.stringify(relay.host) ?? "undefined"
      }`,
    );
  }
  const port = relay.port;
  if (typeof port !== "number") {
    throw new TypeError(
      `Invalid option "relay.port": expected an integer from 1 to 65535, got ${typeof port}`,
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OptionRangeError(
      "relay.port",
      `${port} is not an integer from 1 to 65535`,
    );
  }
  const channel = relay.channel;
  if (typeof channel !== "string" || channel === "") {
    throw new TypeError(
      'Invalid option "relay.channel": expected a non-empty string both sides name (public: never the secret or part of it)',
    );
  }
  if (channel.length > MAX_CHANNEL_LENGTH) {
    throw new OptionRangeError(
      "relay.channel",
      `${channel.length} characters, at most ${MAX_CHANNEL_LENGTH}`,
    );
  }
  return Object.freeze({ host: host.hostname, port, channel });
}

/** Domain separation for the token: a channel name means nothing elsewhere. */
const TOKEN_LABEL = "@transfer/connect relay channel v1\0";
/** The role bytes sent right after `ok`. */
const ROLE = { active: 0x61, passive: 0x70 } as const; // "a", "p"
/** A wait the relay drops within this many ms counts as a quick drop. */
const QUICK_DROP = 2_000;
/** Consecutive quick drops after which the relay is taken for broken. */
const MAX_QUICK_DROPS = 3;
/** Random pause (ms) before registering again after a same-role pairing. */
const SAME_ROLE_PAUSE = { min: 200, max: 1_000 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The relay token of a channel: 64 hex digits, SHA-256 of a fixed label and
 * the channel. It reveals only the channel, which is public.
 *
 * @example Usage
 * ```ts
 * import { relayToken } from "@transfer/connect";
 * import { assertEquals, assertMatch, assertNotEquals } from "@std/assert";
 *
 * const token = await relayToken("4711");
 * assertMatch(token, /^[0-9a-f]{64}$/);
 * assertEquals(token, await relayToken("4711"));
 * assertNotEquals(token, await relayToken("4712"));
 * ```
 *
 * @param channel The public channel.
 * @returns The token both sides register with.
 */
export async function relayToken(channel: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    encoder.encode(TOKEN_LABEL + channel),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/** 16 random hex digits: this side, so the relay never pairs it with itself. */
function randomSide(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/** How a registration ended: paired, or to be made again. */
type Outcome = "paired" | "dropped" | "same role";

/** One relay and channel as both sides use them. */
class Relay {
  readonly address: TransportAddress & { transport: "tcp" };
  /** "the relay at H:P", for messages. */
  readonly where: string;
  readonly channel: string;
  readonly #side = randomSide();
  #token: Promise<string> | undefined;

  constructor(options: RelayOptions) {
    this.address = {
      transport: "tcp",
      hostname: options.host,
      port: options.port,
    };
    this.where = `the relay at ${formatHostPort(options.host, options.port)}`;
    this.channel = options.channel;
  }

  /** Dials the relay and sends the registration. */
  async register(signal: AbortSignal): Promise<Deno.Conn> {
    this.#token ??= relayToken(this.channel);
    const token = await this.#token;
    const conn = await denoTransport.connect!(this.address, signal);
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
      const line = `please relay ${token} for side ${this.#side}\n`;
      await raceAbortClosing(
        conn,
        writeAll(conn, encoder.encode(line)),
        signal,
      );
    } catch (error) {
      closeQuietly(conn);
      throw error;
    }
    return conn;
  }

  /**
   * Waits for `ok` on a registered connection and exchanges role bytes.
   * Unless paired (the peer has the other role), the connection is closed.
   */
  async pair(
    conn: Deno.Conn,
    role: keyof typeof ROLE,
    signal: AbortSignal,
  ): Promise<Outcome> {
    let outcome: Outcome = "dropped";
    try {
      outcome = await raceAbortClosing(
        conn,
        this.#pair(conn, role),
        signal,
      );
      return outcome;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (isDrop(error)) return "dropped";
      throw error;
    } finally {
      if (outcome !== "paired") closeQuietly(conn);
    }
  }

  async #pair(conn: Deno.Conn, role: keyof typeof ROLE): Promise<Outcome> {
    const answer = await readAnswer(conn);
    if (answer === null) return "dropped";
    if (decoder.decode(answer) !== "ok\n") {
      throw new Deno.errors.InvalidData(
        `${this.where} answered ${
          JSON.stringify(await readLine(conn, answer))
        } instead of "ok": is it a magic-wormhole transit relay?`,
      );
    }
    await writeAll(conn, Uint8Array.of(ROLE[role]));
    const peer = new Uint8Array(1);
    let count: number | null = 0;
    while (count === 0) count = await conn.read(peer);
    if (count === null) return "dropped"; // the peer left right after ok
    const expected = role === "active" ? ROLE.passive : ROLE.active;
    if (peer[0] === expected) return "paired";
    if (peer[0] === ROLE[role]) return "same role";
    throw new Deno.errors.InvalidData(
      `the peer met on channel ${this.channel} through ${this.where} is not a @transfer/connect ${
        role === "active" ? "listener" : "connector"
      } (it sent the byte 0x${peer[0].toString(16).padStart(2, "0")})`,
    );
  }
}

/** The relay closed (or reset) the connection: an unpaired wait it dropped. */
function isDrop(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.UnexpectedEof;
}

/** The relay's first 3 bytes; `null` when it closed without a byte. */
async function readAnswer(conn: Deno.Conn): Promise<Uint8Array | null> {
  // Exactly 3 bytes, never more: what follows "ok\n" is the peer's.
  const answer = await readUpTo(conn, 3);
  return answer.length === 0 ? null : answer;
}

/** The rest of an unexpected answer's first line (at most 80 bytes), for a message. */
async function readLine(conn: Deno.Conn, start: Uint8Array): Promise<string> {
  const bytes = [...start];
  const buffer = new Uint8Array(80);
  try {
    while (!bytes.includes(0x0a) && bytes.length < 80) {
      const count = await conn.read(buffer.subarray(0, 80 - bytes.length));
      if (count === null) break;
      bytes.push(...buffer.subarray(0, count));
    }
  } catch {
    // What arrived is enough for the message.
  }
  const end = bytes.indexOf(0x0a);
  return decoder.decode(
    Uint8Array.from(end === -1 ? bytes : bytes.slice(0, end)),
  );
}

/**
 * Counts waits the relay drops at once; a relay that keeps doing so is
 * broken (or no relay), and waiting on it would spin.
 */
class DropCounter {
  #quick = 0;
  #since = performance.now();
  constructor(readonly relay: Relay) {}

  /** A new registration starts now. */
  started(): void {
    this.#since = performance.now();
  }

  /** The wait was dropped; throws after too many quick drops in a row. */
  dropped(): void {
    if (performance.now() - this.#since >= QUICK_DROP) {
      this.#quick = 0;
      return;
    }
    if (++this.#quick >= MAX_QUICK_DROPS) {
      throw new Deno.errors.InvalidData(
        `${this.relay.where} closed the connection ${MAX_QUICK_DROPS} times in a row right after the registration for channel ${this.relay.channel}: is it a magic-wormhole transit relay?`,
      );
    }
  }
}

/** A random pause before registering again after meeting a side of the same role. */
function sameRolePause(signal: AbortSignal): Promise<void> {
  const { min, max } = SAME_ROLE_PAUSE;
  return sleep(min + Math.random() * (max - min), signal);
}

/**
 * The passive side at the relay: a `Deno.Listener` whose `accept()` resolves
 * with the next paired connection, registering again as needed. Its `addr`
 * is the relay's address.
 */
class RelayListener implements Deno.Listener {
  readonly addr: Deno.NetAddr;
  #relay: Relay;
  /** A registration made and not yet waited on. */
  #registered: Deno.Conn | undefined;
  #closed = new AbortController();
  #accepting = false;
  #referenced = true;

  constructor(relay: Relay, registered: Deno.Conn) {
    this.#relay = relay;
    this.#registered = registered;
    this.addr = registered.remoteAddr as Deno.NetAddr;
  }

  async accept(): Promise<Deno.Conn> {
    if (this.#closed.signal.aborted) {
      throw new Deno.errors.BadResource("Listener has been closed");
    }
    if (this.#accepting) {
      throw new Deno.errors.Busy("Another accept task is ongoing");
    }
    this.#accepting = true;
    try {
      return await this.#meet(this.#closed.signal);
    } catch (error) {
      if (this.#closed.signal.aborted) {
        throw new Deno.errors.BadResource("Listener has been closed");
      }
      throw error;
    } finally {
      this.#accepting = false;
    }
  }

  async #meet(signal: AbortSignal): Promise<Deno.Conn> {
    const drops = new DropCounter(this.#relay);
    for (;;) {
      const conn = this.#registered ?? await this.#relay.register(signal);
      this.#registered = conn;
      if (!this.#referenced) conn.unref();
      drops.started();
      const outcome = await this.#relay.pair(conn, "passive", signal);
      this.#registered = undefined;
      if (outcome === "paired") {
        if (!this.#referenced) conn.ref();
        return conn;
      }
      if (outcome === "dropped") drops.dropped();
      else await sameRolePause(signal);
    }
  }

  close(): void {
    if (this.#closed.signal.aborted) {
      throw new Deno.errors.BadResource("Listener has been closed");
    }
    this.#closed.abort();
    if (this.#registered !== undefined) closeQuietly(this.#registered);
    this.#registered = undefined;
  }

  ref(): void {
    this.#referenced = true;
    this.#registered?.ref();
  }

  unref(): void {
    this.#referenced = false;
    this.#registered?.unref();
  }

  async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.Conn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        throw error;
      }
    }
  }

  [Symbol.dispose](): void {
    closeQuietly(this);
  }
}

/**
 * A transport that meets the counterpart through a magic-wormhole transit
 * relay: `connect()` registers and resolves once paired with a listener;
 * `listen()` registers and returns a listener whose `accept()` resolves once
 * paired with a connector. The address given to either is ignored: both go
 * to the relay. Its `permissions()` are net access to the relay alone.
 *
 * A {@linkcode Connector} builds one from its `relay` option, which also
 * requires a secret: use that. Over a relay nothing must flow in clear
 * text, and a half-close makes the relay close both ends.
 *
 * @example Usage
 * ```ts
 * import { relayTransport } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * const relay = relayTransport({
 *   host: "relay.example",
 *   port: 4001,
 *   channel: "4711",
 * });
 * assertEquals(
 *   relay.permissions!({ transport: "tcp", hostname: "ignored", port: 1 }, "active"),
 *   [{ name: "net", host: "relay.example:4001" }],
 * );
 * ```
 *
 * @param options The relay, the channel and how long the active side waits.
 * @returns The transport.
 */
export function relayTransport(
  options: RelayTransportOptions,
): ConnectorTransport {
  const relay = new Relay(options);
  const pairingWait = options.pairingWait;
  return Object.freeze({
    async connect(
      _address: TransportAddress,
      signal: AbortSignal,
    ): Promise<Deno.Conn> {
      using scope = new SetupScope(
        [signal],
        pairingWait,
        () =>
          new Deno.errors.TimedOut(
            `Timed out after ${pairingWait} ms waiting at ${relay.where} for the listener on channel ${relay.channel}: check the code, and that the listener still waits`,
          ),
      );
      const drops = new DropCounter(relay);
      for (;;) {
        const conn = await relay.register(scope.signal);
        drops.started();
        const outcome = await relay.pair(conn, "active", scope.signal);
        if (outcome === "paired") return conn;
        if (outcome === "dropped") drops.dropped();
        else await sameRolePause(scope.signal);
      }
    },
    async listen(): Promise<Deno.Listener> {
      const registered = await relay.register(new AbortController().signal);
      return new RelayListener(relay, registered);
    },
    // The relay closes both ends when one side half-closes: each direction
    // ends with the encrypted stream's end record instead.
    halfClose: false,
    permissions(): Deno.PermissionDescriptor[] {
      return [{
        name: "net",
        host: formatHostPort(relay.address.hostname, relay.address.port),
      }];
    },
  });
}
