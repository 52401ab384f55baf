/**
 * Peer authentication with a shared secret, which may be as short as a code
 * read aloud: CPace, the password-authenticated key exchange of
 * draft-irtf-cfrg-cpace-21 (suite CPACE-RISTR255-SHA512), with explicit key
 * confirmation in both directions. A {@linkcode Connector} runs it after the
 * connection and any TLS handshake are set up, before `connect()` resolves.
 *
 * The exchange (version 2; the wire format is in docs/secret.md):
 *
 * 1. the active side sends its **hello**: the version byte `0x02`, a feature
 *    byte (bit 0: it confirms delivery after the data; bit 1: it encrypts the
 *    stream after the exchange) and a fresh 32-byte nonce;
 * 2. the passive side answers with its own hello and its CPace **share**, a
 *    random multiple of a generator derived from the secret, the protocol
 *    label, both roles and the session id (both nonces and both feature
 *    bytes, so that nobody can change a feature unnoticed);
 * 3. the active side sends its share and its **confirmation tag**;
 * 4. the passive side checks the tag and only then sends its own.
 *
 * Whoever connects gets, per connection, one guess at the secret and nothing
 * to test further guesses offline: shares reveal nothing about the secret, and
 * the passive side confirms only to a peer that confirmed first. Exactly the
 * exchange's bytes are read, so the first byte the caller reads afterwards is
 * the peer's first application byte.
 *
 * @module
 */
import { raceAbort, raceAbortClosing } from "./_abort.ts";
import {
  AuthenticationError,
  EncryptionMismatchError,
  QueueFullError,
} from "./errors.ts";
import { formatAddr } from "./address.ts";
import { accessFile } from "./_files.ts";
import { concat, lvCat } from "./_bytes.ts";
import { readOrEnd, readUpTo, writeAll } from "./_io.ts";
import { computeShare, OVERLOAD_NOTICE } from "./_share_queue.ts";

/**
 * The group code (`@noble/curves`), loaded by the first exchange: importing
 * this module, or a connector without a secret, does not pay for it.
 */
type Cpace = typeof import("./_cpace.ts");
import {
  type ConnectorPermission,
  missingPermissionError,
} from "./permissions.ts";

/**
 * A shared secret of at least one byte: the bytes themselves (a string is
 * UTF-8 encoded), or where to read them: `{ file }` or `{ env }`.
 */
export type SecretOption = string | Uint8Array | { file: string } | {
  env: string;
};

/** A validated secret option, frozen. */
export type SecretSource =
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "file"; file: string }
  | { kind: "env"; env: string };

/**
 * The largest secret file read, in bytes: a file holds one code or
 * passphrase, so anything longer is a mistake (`/dev/zero`, a log file).
 *
 * @example Usage
 * ```ts
 * import { MAX_SECRET_FILE_SIZE } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(MAX_SECRET_FILE_SIZE, 4096);
 * ```
 */
export const MAX_SECRET_FILE_SIZE = 4096;
/** The version byte that opens a hello. */
const PROTOCOL_VERSION = 2;
/** The protocol label, the first field of CPace's channel identifier. */
const PROTOCOL_LABEL = "@transfer/connect CPace v2";
/** Bytes of a nonce. */
const NONCE_LENGTH = 32;
/** Bytes of a hello: version byte, feature byte, nonce. */
const HELLO_LENGTH = 2 + NONCE_LENGTH;
/** Where the nonce starts in a hello. */
const NONCE_OFFSET = 2;
/** Feature bit: this side runs the CLI's delivery confirmation after the data. */
const FEATURE_CONFIRM = 0x01;
/** Feature bit: this side encrypts the stream after the exchange (encrypted.ts). */
const FEATURE_ENCRYPT = 0x02;
/** Bytes of a confirmation tag (HMAC-SHA-512). */
const TAG_LENGTH = 64;
/**
 * What the passive side writes, in plain text, to a peer whose first byte is
 * no hello: a client without the secret learns what the listener expects
 * (nc shows it; the CLI recognises it and exits 1 naming `--code`).
 */
export const PLAIN_NOTICE: string =
  "@transfer/connect: this listener expects a code or shared secret (the CPace exchange, version 2); closing\n";

const encoder = new TextEncoder();
const ROLES = {
  active: encoder.encode("active"),
  passive: encoder.encode("passive"),
};
/** CPace's CI: the label, then the initiator's and the responder's roles. */
const CHANNEL_IDENTIFIER = lvCat(
  encoder.encode(PROTOCOL_LABEL),
  ROLES.active,
  ROLES.passive,
);

function checkNotEmpty(bytes: Uint8Array, what: string): void {
  if (bytes.length === 0) {
    throw new RangeError(
      `${what} is empty: a shared secret needs at least one byte (a code such as "42-apple-cabin-stone-quiet", or a passphrase)`,
    );
  }
}

function checkName(value: unknown, what: string, kind: string): string {
  if (typeof value !== "string" || value === "" || value.includes("\0")) {
    throw new TypeError(`Invalid option "${what}": expected ${kind}`);
  }
  return value;
}

/**
 * Validates the `secret` option: a non-empty string (UTF-8 encoded) or
 * `Uint8Array`, `{ file: path }` or `{ env: "NAME" }`. Bytes are copied, so
 * changing the caller's array later changes nothing.
 *
 * @example Usage
 * ```ts
 * import { parseSecretOption } from "./auth.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(parseSecretOption({ env: "MY_SECRET" }), {
 *   kind: "env",
 *   env: "MY_SECRET",
 * });
 * assertEquals(parseSecretOption(undefined), undefined);
 * assertEquals(parseSecretOption("x")?.kind, "bytes");
 * assertThrows(() => parseSecretOption(""), RangeError, "empty");
 * ```
 *
 * @param value The option as given.
 * @returns The frozen source, or `undefined` when there is no secret.
 * @throws {TypeError} When the value has the wrong shape.
 * @throws {RangeError} When the secret is empty.
 */
export function parseSecretOption(value: unknown): SecretSource | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") {
    const bytes = encoder.encode(value);
    checkNotEmpty(bytes, 'Invalid option "secret": the string');
    return Object.freeze({ kind: "bytes", bytes });
  }
  if (value instanceof Uint8Array) {
    checkNotEmpty(value, 'Invalid option "secret": the Uint8Array');
    return Object.freeze({ kind: "bytes", bytes: new Uint8Array(value) });
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const input = value as Record<string, unknown>;
    if (keys.length === 1 && keys[0] === "file") {
      const file = checkName(input.file, "secret.file", "a file path");
      return Object.freeze({ kind: "file", file });
    }
    if (keys.length === 1 && keys[0] === "env") {
      const env = checkName(
        input.env,
        "secret.env",
        "the name of an environment variable",
      );
      if (env.includes("=")) {
        throw new TypeError(
          `Invalid option "secret.env": "${env}" is not an environment variable name (it contains "=")`,
        );
      }
      return Object.freeze({ kind: "env", env });
    }
  }
  throw new TypeError(
    'Invalid option "secret": expected a non-empty string or Uint8Array, { file: path } or { env: "NAME" }',
  );
}

/**
 * The permissions needed to read the secret: read for a file, env for a
 * variable, none for bytes given directly.
 *
 * @example Usage
 * ```ts
 * import { parseSecretOption, secretPermissions } from "./auth.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   secretPermissions(parseSecretOption({ file: "secret.txt" })),
 *   [{ name: "read", path: "secret.txt" }],
 * );
 * ```
 *
 * @param source The validated option, if any.
 * @returns Zero or one permission descriptor.
 */
export function secretPermissions(
  source: SecretSource | undefined,
): ConnectorPermission[] {
  switch (source?.kind) {
    case "file":
      return [{ name: "read", path: source.file }];
    case "env":
      return [{ name: "env", variable: source.env }];
    default:
      return [];
  }
}

/** Reads at most MAX_SECRET_FILE_SIZE + 1 bytes: a larger file is refused. */
async function readBounded(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const bytes = await readUpTo(file, MAX_SECRET_FILE_SIZE + 1);
  if (bytes.length > MAX_SECRET_FILE_SIZE) {
    throw new RangeError(
      `The secret file "${path}" is larger than ${MAX_SECRET_FILE_SIZE} bytes: it should hold one code or passphrase`,
    );
  }
  return bytes.slice();
}

async function readSecretFile(path: string): Promise<Uint8Array> {
  const bytes = await accessFile(
    "read",
    "the secret file",
    path,
    () => readBounded(path),
  );
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) {
    end--;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
  }
  const secret = bytes.slice(0, end);
  checkNotEmpty(
    secret,
    `The secret file "${path}" (without its trailing newline)`,
  );
  return secret;
}

function readSecretVariable(name: string): Uint8Array {
  let value: string | undefined;
  try {
    value = Deno.env.get(name);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw missingPermissionError([{ name: "env", variable: name }], error);
    }
    throw error;
  }
  if (value === undefined) {
    throw new Deno.errors.NotFound(
      `The environment variable ${name} is not set: set it to the shared secret`,
    );
  }
  const secret = encoder.encode(value);
  checkNotEmpty(secret, `The environment variable ${name}`);
  return secret;
}

function readSource(source: SecretSource): Promise<Uint8Array> {
  try {
    switch (source.kind) {
      case "bytes":
        return Promise.resolve(new Uint8Array(source.bytes));
      case "file":
        return readSecretFile(source.file);
      case "env":
        return Promise.resolve(readSecretVariable(source.env));
      default:
        throw new TypeError(
          "Invalid secret source: pass what parseSecretOption() returns",
        );
    }
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Reads the secret's bytes: a copy of the bytes given, the contents of the
 * file without one trailing newline (`\n` or `\r\n`; at most
 * {@linkcode MAX_SECRET_FILE_SIZE} bytes are read), or the UTF-8 value of the
 * environment variable.
 *
 * @example Usage
 * ```ts
 * import { parseSecretOption, resolveSecret } from "./auth.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const secret = await resolveSecret(parseSecretOption("42-apple-river")!);
 * assertEquals(secret.length, 14);
 * ```
 *
 * @param source The validated option.
 * @param signal Gives up the read (a file that never ends, such as a FIFO):
 * the promise rejects with `signal.reason`.
 * @returns The secret, at least one byte.
 * @throws {Deno.errors.NotCapable} Without read or env permission, naming the
 * exact flag (`--allow-read=<path>`, `--allow-env=NAME`).
 * @throws {Deno.errors.NotFound} When the file does not exist or the variable
 * is not set.
 * @throws {RangeError} When the secret is empty or the file larger than
 * {@linkcode MAX_SECRET_FILE_SIZE} bytes.
 */
export function resolveSecret(
  source: SecretSource,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const reading = readSource(source);
  return signal === undefined ? reading : raceAbort(reading, signal);
}

/** Compares two byte arrays in time that depends only on their length. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) {
    difference |= a[index] ^ b[index];
  }
  return difference === 0;
}

/** Why a frame could not be read in full: the stream ended after `filled` bytes. */
class ShortFrame extends Error {
  constructor(readonly filled: number) {
    super(`stream ended after ${filled} bytes`);
  }
}

/** Reads exactly `length` bytes, never more; a reset ends the stream. */
async function readFrame(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const frame = await readUpTo(conn, length, { resetIsEnd: true });
  if (frame.length < length) throw new ShortFrame(frame.length);
  return frame;
}

/** The first bytes of something that is not a hello, as text if printable. */
function describeGreeting(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, 24));
  if (/^[\x20-\x7e\r\n\t]+$/.test(text)) {
    return `it sent ${JSON.stringify(text)}`;
  }
  return `its first byte is 0x${bytes[0].toString(16).padStart(2, "0")}`;
}

/** The state of one side of the exchange. */
interface Side {
  conn: Deno.Conn;
  role: "active" | "passive";
  secret: Uint8Array;
  /** The peer's address, for messages. */
  peer: string;
  /** This side's feature byte. */
  features: number;
  /** The group code. */
  cpace: Cpace;
  /** "The listener" or "the peer": what the other side is, for messages. */
  other: string;
}

/** Reads a frame; a stream that ends first is explained in terms of the exchange. */
async function readPart(
  side: Side,
  length: number,
  what: string,
): Promise<Uint8Array> {
  try {
    return await readFrame(side.conn, length);
  } catch (error) {
    if (!(error instanceof ShortFrame)) throw error;
    if (what === "confirmation") {
      throw new AuthenticationError(
        `Authentication failed: ${side.other} at ${side.peer} closed the connection instead of confirming the key: it holds another code or secret (it turned this side away); check that both sides use the same one`,
      );
    }
    if (what === "hello" && side.role === "active" && error.filled === 0) {
      // Said nothing at all: most likely dropped, e.g. while flooded.
      throw new Deno.errors.InvalidData(
        `The listener at ${side.peer} closed the connection without answering this side's hello: it dropped this connection (a listener flooded by other peers drops those it has not heard from in time; try again), or it expects no code or secret, or speaks another protocol`,
      );
    }
    throw new Deno.errors.InvalidData(
      `${
        capitalize(side.other)
      } at ${side.peer} closed the connection after ${error.filled} of the ${length} bytes of its ${what}: it expects no code or secret, speaks another protocol, or dropped this connection; check that both sides use a code or secret`,
    );
  }
}

function capitalize(text: string): string {
  return text[0].toUpperCase() + text.slice(1);
}

/** Checks the version byte of a hello. */
function checkHello(side: Side, hello: Uint8Array): void {
  const version = hello[0];
  if (version === PROTOCOL_VERSION) return;
  throw new Deno.errors.InvalidData(
    `${
      capitalize(side.other)
    } at ${side.peer} does not speak the @transfer/connect secret exchange: ${
      describeGreeting(hello)
    }, expected the version byte 0x0${PROTOCOL_VERSION}; check that both sides use a code or secret`,
  );
}

/**
 * Throws when the listener answered the hello with the overload notice
 * (`bytes`, the first read, may hold only its start: the rest is read).
 */
async function checkOverload(side: Side, bytes: Uint8Array): Promise<void> {
  const notice = OVERLOAD_NOTICE;
  if (!constantTimeEqual(bytes, notice.subarray(0, bytes.length))) return;
  if (bytes.length < notice.length) {
    const rest = await readFrame(side.conn, notice.length - bytes.length)
      .catch(() => undefined);
    const expected = notice.subarray(bytes.length);
    if (rest === undefined || !constantTimeEqual(rest, expected)) return;
  }
  throw new QueueFullError(
    `${
      capitalize(side.other)
    } at ${side.peer} is overloaded: it turned this connection away before the secret exchange (too many peers were connecting at once, perhaps a flood); try again`,
  );
}

/**
 * Reads the peer's hello. One read first (never more than a hello) shows what
 * the peer speaks: a stranger is reported at once, without waiting for bytes
 * that will never come; the passive side first tells it, in plain text, what
 * this listener expects.
 */
async function readHello(side: Side): Promise<Uint8Array> {
  const first = new Uint8Array(HELLO_LENGTH);
  const count = await readOrEnd(side.conn, first);
  if (count === null) return await readPart(side, HELLO_LENGTH, "hello");
  if (first[0] !== PROTOCOL_VERSION) {
    if (side.role === "passive") {
      await writeAll(side.conn, encoder.encode(PLAIN_NOTICE)).catch(() => {});
    } else {
      await checkOverload(side, first.subarray(0, count));
    }
    checkHello(side, first.subarray(0, count));
  }
  if (count === HELLO_LENGTH) return first;
  return concat(
    first.subarray(0, count),
    await readPart(side, HELLO_LENGTH - count, "hello"),
  );
}

/** What both sides derive once the shares are known. */
async function confirmationTags(
  { cpace }: Side,
  sid: Uint8Array,
  point: Uint8Array,
  activeShare: Uint8Array,
  passiveShare: Uint8Array,
): Promise<
  { active: Uint8Array; passive: Uint8Array; sessionKey: Uint8Array }
> {
  const sessionKey = await cpace.intermediateSessionKey(
    sid,
    point,
    cpace.transcriptIr(activeShare, ROLES.active, passiveShare, ROLES.passive),
  );
  const macKey = await cpace.confirmationKey(sid, sessionKey);
  const [active, passive] = await Promise.all([
    cpace.confirmationTag(macKey, activeShare, ROLES.active),
    cpace.confirmationTag(macKey, passiveShare, ROLES.passive),
  ]);
  return { active, passive, sessionKey };
}

/** K = y · peer's share, or an error when the share is invalid or reflected. */
function sharedPoint(
  side: Side,
  scalar: bigint,
  ownShare: Uint8Array,
  peerShare: Uint8Array,
): Uint8Array {
  if (constantTimeEqual(ownShare, peerShare)) {
    throw new Deno.errors.InvalidData(
      `${
        capitalize(side.other)
      } at ${side.peer} sent back this side's own share: it is reflecting the exchange, not taking part in it`,
    );
  }
  const point = side.cpace.scalarMultVerify(scalar, peerShare);
  if (point === undefined) {
    throw new Deno.errors.InvalidData(
      `${
        capitalize(side.other)
      } at ${side.peer} sent a share that is not a valid ristretto255 element (or is the neutral element): it does not run the exchange correctly`,
    );
  }
  return point;
}

function newHello(features: number): Uint8Array {
  const hello = new Uint8Array(HELLO_LENGTH);
  hello[0] = PROTOCOL_VERSION;
  hello[1] = features;
  crypto.getRandomValues(hello.subarray(NONCE_OFFSET));
  return hello;
}

/** The session id: both nonces, then both feature bytes (active first). */
function sessionId(activeHello: Uint8Array, passiveHello: Uint8Array) {
  return concat(
    activeHello.subarray(NONCE_OFFSET),
    passiveHello.subarray(NONCE_OFFSET),
    Uint8Array.of(activeHello[1], passiveHello[1]),
  );
}

function checkNonces(side: Side, own: Uint8Array, peer: Uint8Array): void {
  if (
    constantTimeEqual(
      own.subarray(NONCE_OFFSET),
      peer.subarray(NONCE_OFFSET),
    )
  ) {
    throw new Deno.errors.InvalidData(
      `${
        capitalize(side.other)
      } at ${side.peer} sent back this side's own nonce: it is reflecting the exchange, not taking part in it`,
    );
  }
}

/** A fresh scalar and this side's share: scalar · generator(secret, sid). */
async function newShare(
  side: Side,
  sid: Uint8Array,
): Promise<{ scalar: bigint; share: Uint8Array }> {
  const { cpace } = side;
  const generator = await cpace.calculateGenerator(
    side.secret,
    CHANNEL_IDENTIFIER,
    sid,
  );
  const scalar = cpace.sampleScalar();
  return { scalar, share: cpace.scalarMult(scalar, generator) };
}

/** What an exchange that succeeded yields. */
interface Outcome {
  /** The peer's feature byte. */
  peerFeatures: number;
  sessionKey: Uint8Array;
  sessionId: Uint8Array;
}

/** The active side: hello; read hello + share; send share + tag; check the tag. */
async function runActive(side: Side): Promise<Outcome> {
  const hello = newHello(side.features);
  await writeAll(side.conn, hello);
  const peerHello = await readHello(side);
  checkNonces(side, hello, peerHello);
  const sid = sessionId(hello, peerHello);
  const { scalar, share } = await newShare(side, sid);
  const peerShare = await readPart(side, side.cpace.ELEMENT_BYTES, "share");
  const point = sharedPoint(side, scalar, share, peerShare);
  const tags = await confirmationTags(side, sid, point, share, peerShare);
  await writeAll(side.conn, concat(share, tags.active));
  const peerTag = await readPart(side, TAG_LENGTH, "confirmation");
  if (!constantTimeEqual(peerTag, tags.passive)) {
    throw new AuthenticationError(
      `Authentication failed: ${side.other} at ${side.peer} did not prove it holds the same code or secret; check that both sides use the same one`,
    );
  }
  return {
    peerFeatures: peerHello[1],
    sessionKey: tags.sessionKey,
    sessionId: sid,
  };
}

/** The passive side: read hello; send hello + share; read share + tag; confirm. */
async function runPassive(side: Side): Promise<Outcome> {
  const peerHello = await readHello(side);
  const hello = newHello(side.features);
  checkNonces(side, hello, peerHello);
  const sid = sessionId(peerHello, hello);
  // Under a flood of hellos, the listener's queue decides when (and whether).
  const { scalar, share } = await computeShare(
    side.conn,
    () => newShare(side, sid),
  );
  // The share is a random group element: it tells the peer nothing about
  // the secret. Nothing that depends on the secret and the peer's share
  // leaves this side before the peer's tag has been checked.
  await writeAll(side.conn, concat(hello, share));
  const peerShare = await readPart(side, side.cpace.ELEMENT_BYTES, "share");
  const point = sharedPoint(side, scalar, share, peerShare);
  const tags = await confirmationTags(side, sid, point, peerShare, share);
  const peerTag = await readPart(side, TAG_LENGTH, "tag");
  if (!constantTimeEqual(peerTag, tags.active)) {
    throw new AuthenticationError(
      `Authentication failed: the peer at ${side.peer} does not hold the same code or secret (a wrong code, or a guess)`,
    );
  }
  await writeAll(side.conn, tags.passive);
  return {
    peerFeatures: peerHello[1],
    sessionKey: tags.sessionKey,
    sessionId: sid,
  };
}

/**
 * How to run the exchange ({@linkcode authenticate}): this side's role, the
 * secret, the time bound, and what this side announces to the peer.
 */
export interface AuthenticateOptions {
  /** This side's role: `"active"` (it connected) or `"passive"` (it accepted). */
  role: "active" | "passive";
  /** The shared secret, at least one byte. */
  secret: Uint8Array;
  /**
   * Bounds the exchange in time: when it aborts, `conn` is closed, which
   * interrupts a pending read, and the promise rejects with `signal.reason`.
   */
  signal: AbortSignal;
  /**
   * This side runs the CLI's delivery confirmation (`--confirm`) after the
   * data, and asks the peer to do the same.
   */
  confirm?: boolean;
  /**
   * This side encrypts the stream after the exchange
   * ({@linkcode EncryptedConn}); the peer must announce the same, or the
   * exchange fails on both sides. Default `false`.
   */
  encrypt?: boolean;
}

/** What the peer announced in the exchange, authenticated, and the keys. */
export interface AuthenticationResult {
  /** The peer runs the CLI's delivery confirmation after the data. */
  peerConfirms: boolean;
  /** Both sides encrypt the stream after the exchange. */
  encrypted: boolean;
  /**
   * CPace's intermediate session key (ISK, 64 bytes), known only to the two
   * sides: the input of {@linkcode EncryptedConn.create}. Keep it secret.
   */
  sessionKey: Uint8Array;
  /** The exchange's session id (sid): both nonces and both feature bytes. */
  sessionId: Uint8Array;
}

/**
 * Both sides must agree on encryption: checked after the exchange, when each
 * side knows the other's authenticated feature byte, so both fail alike.
 */
function checkEncryption(side: Side, peerFeatures: number): void {
  const own = (side.features & FEATURE_ENCRYPT) !== 0;
  const peer = (peerFeatures & FEATURE_ENCRYPT) !== 0;
  if (own === peer) return;
  const other = capitalize(side.other);
  throw own
    ? new EncryptionMismatchError(
      `${other} at ${side.peer} proved the secret but does not encrypt the stream after it (it runs a @transfer/connect from before encryption, or sets encrypt: false or uses TLS), and this side does`,
      "upgrade it, or set encrypt: false on both sides",
      false,
    )
    : new EncryptionMismatchError(
      `${other} at ${side.peer} proved the secret and encrypts the stream after it, but this side does not (encrypt: false, or TLS)`,
      "remove encrypt: false on this side, or set it on both sides",
      true,
    );
}

/**
 * Runs the CPace exchange on `conn` as `role` and resolves when the peer
 * proved it holds the same secret (explicit key confirmation both ways).
 * Reads exactly the bytes of the exchange, so the caller's next read sees the
 * peer's first application byte. On failure `conn` is left open (the caller
 * closes it); when `signal` aborts, `conn` is closed, which interrupts a
 * pending read, and the promise rejects with `signal.reason`.
 *
 * @example Both sides on loopback
 * ```ts
 * import { authenticate } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * const secret = new TextEncoder().encode("42-apple-cabin-stone-quiet");
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const signal = AbortSignal.timeout(5_000);
 * const [client, server] = await Promise.all([
 *   Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
 *   listener.accept(),
 * ]);
 * const [active, passive] = await Promise.all([
 *   authenticate(client, { role: "active", secret, signal }),
 *   authenticate(server, { role: "passive", secret, signal }),
 * ]);
 * // Both sides derived the same session key.
 * assertEquals(active.sessionKey, passive.sessionKey);
 * // The next byte read is the peer's first application byte.
 * await client.write(new Uint8Array([42]));
 * const byte = new Uint8Array(1);
 * assertEquals(await server.read(byte), 1);
 * assertEquals(byte[0], 42);
 * client.close();
 * server.close();
 * ```
 *
 * @param conn A fresh connection (after any TLS handshake), nothing read yet.
 * @param options This side's `role`, the `secret`, the `signal` that bounds
 * the exchange, and what this side announces (`confirm`, `encrypt`).
 * @returns What the peer announced, authenticated: nobody between the two
 * sides can change it unnoticed.
 * @throws {AuthenticationError} (a `Deno.errors.PermissionDenied`) When the
 * peer holds another secret;
 * the message says nothing about either secret.
 * @throws {Deno.errors.InvalidData} When the peer does not speak the protocol
 * (another version byte, an invalid or reflected share, the connection closed
 * during the exchange).
 * @throws {RangeError} When `secret` is empty.
 */
export async function authenticate(
  conn: Deno.Conn,
  options: AuthenticateOptions,
): Promise<AuthenticationResult> {
  const { role, secret, signal } = options;
  if (role !== "active" && role !== "passive") {
    throw new TypeError(
      `Invalid role ${JSON.stringify(role)}: expected "active" or "passive"`,
    );
  }
  checkNotEmpty(secret, "The secret");
  signal.throwIfAborted();
  let peer: string;
  try {
    peer = formatAddr(conn.remoteAddr);
  } catch {
    peer = "(unknown address)";
  }
  const side: Side = {
    conn,
    role,
    secret: new Uint8Array(secret),
    peer,
    features: (options.confirm === true ? FEATURE_CONFIRM : 0) |
      (options.encrypt === true ? FEATURE_ENCRYPT : 0),
    cpace: await raceAbort(import("./_cpace.ts"), signal),
    other: role === "active" ? "the listener" : "the peer",
  };
  const outcome = await raceAbortClosing(
    conn,
    role === "active" ? runActive(side) : runPassive(side),
    signal,
  );
  checkEncryption(side, outcome.peerFeatures);
  return {
    peerConfirms: (outcome.peerFeatures & FEATURE_CONFIRM) !== 0,
    encrypted: options.encrypt === true,
    sessionKey: outcome.sessionKey,
    sessionId: outcome.sessionId,
  };
}
