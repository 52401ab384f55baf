/**
 * Peer authentication with a shared secret (mutual HMAC-SHA-256
 * challenge-response), run by a {@linkcode Connector} after the connection and
 * any TLS handshake are set up and before `connect()` resolves.
 *
 * STUB: the signatures below are wired into connect.ts; the implementation is
 * being written (issue 8).
 *
 * @module
 */
import type { ConnectorPermission } from "./permissions.ts";

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
 * Validates the `secret` option.
 *
 * @throws {TypeError} When the value has the wrong shape.
 * @throws {RangeError} When the secret is shorter than 16 bytes.
 */
export function parseSecretOption(value: unknown): SecretSource | undefined {
  if (value === undefined) return undefined;
  throw new TypeError('The "secret" option is not implemented yet');
}

/** The permissions needed to read the secret: read for a file, env for a variable. */
export function secretPermissions(
  _source: SecretSource | undefined,
): ConnectorPermission[] {
  return [];
}

/** Reads the secret's bytes. */
export function resolveSecret(_source: SecretSource): Promise<Uint8Array> {
  return Promise.reject(new TypeError("not implemented"));
}

/**
 * Runs the mutual challenge-response on `conn` as `role`; resolves when the
 * peer proved it holds the same secret, rejects otherwise (closing nothing).
 */
export function authenticate(
  _conn: Deno.Conn,
  _role: "active" | "passive",
  _secret: Uint8Array,
  _signal: AbortSignal,
): Promise<void> {
  return Promise.reject(new TypeError("not implemented"));
}
