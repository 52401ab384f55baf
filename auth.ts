/**
 * Peer authentication with a shared secret: a mutual HMAC-SHA-256
 * challenge-response that a {@linkcode Connector} runs after the connection
 * and any TLS handshake are set up, before `connect()` resolves.
 *
 * The exchange, on both sides at once (the wire format is in docs/secret.md):
 *
 * 1. each side sends a 33-byte **hello**: the version byte `0x01` and a fresh
 *    32-byte random nonce;
 * 2. each side sends a 32-byte **proof**: HMAC-SHA-256, keyed by the secret,
 *    over the protocol label, its own role (`active` or `passive`), the active
 *    side's nonce and the passive side's nonce;
 * 3. each side checks the peer's proof, computed for the peer's role, in
 *    constant time.
 *
 * Exactly 65 bytes are read from the peer, so the first byte the caller reads
 * afterwards is the peer's first application byte. The roles in the MAC stop
 * a peer from reflecting a proof back; fresh nonces on both sides stop a
 * recorded proof from being replayed. Over plain TCP this authenticates the
 * peer but neither encrypts nor stops an active man-in-the-middle from
 * relaying the exchange: use it together with TLS for both.
 *
 * @module
 */
import { raceAbortClosing } from "./_abort.ts";
import { formatAddr } from "./address.ts";
import { accessFile } from "./_files.ts";
import {
  type ConnectorPermission,
  missingPermissionError,
} from "./permissions.ts";

/**
 * A shared secret of at least 16 bytes: the bytes themselves (a string is
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
 * The shortest secret accepted, in bytes. A random secret of 32 bytes (64 hex
 * digits as text) is a good choice.
 *
 * @example Usage
 * ```ts
 * import { MIN_SECRET_LENGTH } from "@transfer/connect";
 * import { assert } from "@std/assert";
 *
 * const secret = crypto.getRandomValues(new Uint8Array(32));
 * assert(secret.length >= MIN_SECRET_LENGTH);
 * ```
 */
export const MIN_SECRET_LENGTH = 16;
/** The version byte that opens the hello frame. */
const SECRET_PROTOCOL_VERSION = 1;
/** The label every proof starts with (ASCII), which binds it to this protocol and version. */
const SECRET_PROTOCOL_LABEL = "@transfer/connect shared-secret v1";
/** Bytes of a nonce. */
const NONCE_LENGTH = 32;
/** Bytes of the hello frame: version byte + nonce. */
const HELLO_LENGTH = 1 + NONCE_LENGTH;
/** Bytes of the proof frame: one HMAC-SHA-256. */
const PROOF_LENGTH = 32;

const encoder = new TextEncoder();

function checkLength(bytes: Uint8Array, what: string): void {
  if (bytes.length < MIN_SECRET_LENGTH) {
    throw new RangeError(
      `${what} is ${bytes.length} bytes long; a shared secret needs at least ${MIN_SECRET_LENGTH} bytes (e.g. 32 random bytes, hex-encoded)`,
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
 * Validates the `secret` option: a string (UTF-8 encoded) or `Uint8Array` of
 * at least 16 bytes, `{ file: path }` or `{ env: "NAME" }`. Bytes are copied,
 * so changing the caller's array later changes nothing.
 *
 * @example Usage
 * ```ts
 * import { parseSecretOption } from "@transfer/connect";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * assertEquals(parseSecretOption({ env: "TRANSFER_SECRET" }), {
 *   kind: "env",
 *   env: "TRANSFER_SECRET",
 * });
 * assertEquals(parseSecretOption(undefined), undefined);
 * assertThrows(() => parseSecretOption("too short"), RangeError, "at least 16 bytes");
 * ```
 *
 * @param value The option as given.
 * @returns The frozen source, or `undefined` when there is no secret.
 * @throws {TypeError} When the value has the wrong shape.
 * @throws {RangeError} When the secret is shorter than 16 bytes.
 */
export function parseSecretOption(value: unknown): SecretSource | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") {
    const bytes = encoder.encode(value);
    checkLength(bytes, 'Invalid option "secret": the string');
    return Object.freeze({ kind: "bytes", bytes });
  }
  if (value instanceof Uint8Array) {
    checkLength(value, 'Invalid option "secret": the Uint8Array');
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
    'Invalid option "secret": expected a string or Uint8Array of at least 16 bytes, { file: path } or { env: "NAME" }',
  );
}

/**
 * The permissions needed to read the secret: read for a file, env for a
 * variable, none for bytes given directly.
 *
 * @example Usage
 * ```ts
 * import { parseSecretOption, secretPermissions } from "@transfer/connect";
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

async function readSecretFile(path: string): Promise<Uint8Array> {
  const bytes = await accessFile(
    "read",
    "the secret file",
    path,
    () => Deno.readFile(path),
  );
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) {
    end--;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
  }
  const secret = bytes.slice(0, end);
  checkLength(
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
      `The environment variable ${name} is not set: set it to the shared secret (at least ${MIN_SECRET_LENGTH} bytes)`,
    );
  }
  const secret = encoder.encode(value);
  checkLength(secret, `The environment variable ${name}`);
  return secret;
}

/**
 * Reads the secret's bytes: a copy of the bytes given, the contents of the
 * file without one trailing newline (`\n` or `\r\n`), or the UTF-8 value of
 * the environment variable.
 *
 * @example Usage
 * ```ts
 * import { parseSecretOption, resolveSecret } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * const secret = await resolveSecret(parseSecretOption("correct horse battery staple")!);
 * assertEquals(secret.length, 28);
 * ```
 *
 * @param source The validated option.
 * @returns The secret, at least 16 bytes.
 * @throws {Deno.errors.NotCapable} Without read or env permission, naming the
 * exact flag (`--allow-read=<path>`, `--allow-env=NAME`).
 * @throws {Deno.errors.NotFound} When the file does not exist or the variable
 * is not set.
 * @throws {RangeError} When the file or variable holds fewer than 16 bytes.
 */
export function resolveSecret(source: SecretSource): Promise<Uint8Array> {
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

/** The input of a proof: label, 0, role, 0, active nonce, passive nonce. */
function proofInput(
  role: "active" | "passive",
  activeNonce: Uint8Array,
  passiveNonce: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const label = encoder.encode(SECRET_PROTOCOL_LABEL);
  const roleBytes = encoder.encode(role);
  const input = new Uint8Array(
    label.length + 1 + roleBytes.length + 1 + 2 * NONCE_LENGTH,
  );
  let offset = 0;
  input.set(label, offset);
  offset += label.length + 1;
  input.set(roleBytes, offset);
  offset += roleBytes.length + 1;
  input.set(activeNonce, offset);
  input.set(passiveNonce, offset + NONCE_LENGTH);
  return input;
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

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += await conn.write(data.subarray(written));
  }
}

/** Reads exactly `length` bytes, never more; a stream that ends first is InvalidData. */
async function readFrame(
  conn: Deno.Conn,
  length: number,
  frame: string,
  peer: string,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    let count: number | null;
    try {
      count = await conn.read(buffer.subarray(filled));
    } catch (error) {
      if (!(error instanceof Deno.errors.UnexpectedEof)) throw error;
      count = null;
    }
    if (count === null) {
      throw new Deno.errors.InvalidData(
        `The peer at ${peer} closed the connection after ${filled} of the ${length} bytes of its ${frame}: it does not speak the @transfer/connect shared-secret protocol (version ${SECRET_PROTOCOL_VERSION}), or it dropped this connection; check that both sides use the "secret" option`,
      );
    }
    filled += count;
  }
  return buffer;
}

async function exchange(
  conn: Deno.Conn,
  role: "active" | "passive",
  secret: Uint8Array,
  peer: string,
): Promise<void> {
  const keying = crypto.subtle.importKey(
    "raw",
    new Uint8Array(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const hello = new Uint8Array(HELLO_LENGTH);
  hello[0] = SECRET_PROTOCOL_VERSION;
  const ownNonce = crypto.getRandomValues(hello.subarray(1));
  await writeAll(conn, hello);
  const peerHello = await readFrame(conn, HELLO_LENGTH, "hello frame", peer);
  if (peerHello[0] !== SECRET_PROTOCOL_VERSION) {
    throw new Deno.errors.InvalidData(
      `The peer at ${peer} does not speak the @transfer/connect shared-secret protocol: its first byte is 0x${
        peerHello[0].toString(16).padStart(2, "0")
      }, expected the version byte 0x0${SECRET_PROTOCOL_VERSION}; check that both sides use the "secret" option`,
    );
  }
  const peerNonce = peerHello.subarray(1);
  if (constantTimeEqual(peerNonce, ownNonce)) {
    throw new Deno.errors.InvalidData(
      `The peer at ${peer} sent back this side's own nonce: it is reflecting the exchange, not taking part in it`,
    );
  }
  const [activeNonce, passiveNonce] = role === "active"
    ? [ownNonce, peerNonce]
    : [peerNonce, ownNonce];
  const peerRole = role === "active" ? "passive" : "active";
  const key = await keying;
  const signing = crypto.subtle.sign(
    "HMAC",
    key,
    proofInput(role, activeNonce, passiveNonce),
  );
  // The proof expected from the peer is computed while the frames travel.
  const expecting = crypto.subtle.sign(
    "HMAC",
    key,
    proofInput(peerRole, activeNonce, passiveNonce),
  );
  expecting.catch(() => {}); // awaited below, unless the exchange fails first
  await writeAll(conn, new Uint8Array(await signing));
  const peerProof = await readFrame(conn, PROOF_LENGTH, "proof frame", peer);
  const expected = new Uint8Array(await expecting);
  if (!constantTimeEqual(expected, peerProof)) {
    throw new Deno.errors.PermissionDenied(
      `Authentication failed: the peer at ${peer} did not prove it holds the shared secret; check that both sides use the same secret`,
    );
  }
}

/**
 * Runs the mutual challenge-response on `conn` as `role` and resolves when the
 * peer proved it holds the same secret. Reads exactly the bytes of the
 * exchange, so the caller's next read sees the peer's first application byte.
 * On failure `conn` is left open (the caller closes it); when `signal` aborts,
 * `conn` is closed, which interrupts a pending read, and the promise rejects
 * with `signal.reason`.
 *
 * @example Both sides on loopback
 * ```ts
 * import { authenticate } from "@transfer/connect";
 *
 * const secret = new TextEncoder().encode("correct horse battery staple");
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const signal = AbortSignal.timeout(5_000);
 * const [client, server] = await Promise.all([
 *   Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
 *   listener.accept(),
 * ]);
 * await Promise.all([
 *   authenticate(client, "active", secret, signal),
 *   authenticate(server, "passive", secret, signal),
 * ]);
 * client.close();
 * server.close();
 * ```
 *
 * @param conn A fresh connection (after any TLS handshake), nothing read yet.
 * @param role This side's role: `"active"` (it connected) or `"passive"`.
 * @param secret The shared secret, at least 16 bytes.
 * @param signal Bounds the exchange in time.
 * @throws {Deno.errors.PermissionDenied} When the peer's proof is wrong (a
 * different secret); the message says nothing about the secret.
 * @throws {Deno.errors.InvalidData} When the peer does not speak the protocol
 * (wrong version byte, connection closed during the exchange).
 * @throws {RangeError} When `secret` is shorter than 16 bytes.
 */
export async function authenticate(
  conn: Deno.Conn,
  role: "active" | "passive",
  secret: Uint8Array,
  signal: AbortSignal,
): Promise<void> {
  if (role !== "active" && role !== "passive") {
    throw new TypeError(
      `Invalid role ${JSON.stringify(role)}: expected "active" or "passive"`,
    );
  }
  checkLength(secret, "The secret");
  signal.throwIfAborted();
  let peer: string;
  try {
    peer = formatAddr(conn.remoteAddr);
  } catch {
    peer = "(unknown address)";
  }
  await raceAbortClosing(conn, exchange(conn, role, secret, peer), signal);
}
