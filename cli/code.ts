/**
 * Short codes for `listen --code` / `connect HOST PORT --code CODE`: two
 * digits and four words, e.g. `42-apple-cabin-stone-quiet`, easy to read
 * aloud, used as the secret of the CPace exchange; and the secret the command
 * line asks for, read up front so that a secret that cannot be read is an
 * error naming the flag.
 *
 * A code holds log2(100 × 2048⁴) ≈ 50.6 bits. Each connection to the listener
 * tests one guess at most, so an attacker making 1,000 attempts per second
 * for a day (86.4 million guesses) succeeds with probability 86.4e6 / 2^50.6
 * ≈ 4.9e-8, below one in a million; and the listener, which accepts one
 * counterpart, reports each attempt as it happens.
 *
 * A code for `--relay` has four digits, 1000 to 9999: the number is the
 * public channel at the relay, the four words (44 bits) are the secret part
 * (docs/relay.md).
 *
 * @module
 */
import type { ConnectorOptions } from "../mod.ts";
import { CODE_WORDS } from "./code_words.ts";
import { UsageError } from "./flags.ts";

/** Words in a code. */
const CODE_WORD_COUNT = 4;
/** The number in front of a code: 00 to 99. */
const CODE_NUMBERS = 100;
/** The number in front of a code for `--relay` (its channel): 1000 to 9999. */
export const RELAY_CHANNELS = { first: 1000, count: 9000 } as const;

/** The entropy of a code in bits: log2(100 × 2048⁴). */
export const CODE_BITS: number = Math.log2(CODE_NUMBERS) +
  CODE_WORD_COUNT * Math.log2(CODE_WORDS.length);

/** A uniformly random integer below `limit` (≤ 2³²), without modulo bias. */
function randomBelow(limit: number): number {
  const ceiling = Math.floor(2 ** 32 / limit) * limit;
  const value = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(value);
    if (value[0] < ceiling) return value[0] % limit;
  }
}

/**
 * Makes a new random code such as `42-apple-cabin-stone-quiet`; for a relay
 * (`{ relay: true }`), with a channel number such as `4711-apple-cabin-stone-quiet`.
 */
export function makeCode(options: { relay?: boolean } = {}): string {
  const number = options.relay
    ? String(RELAY_CHANNELS.first + randomBelow(RELAY_CHANNELS.count))
    : String(randomBelow(CODE_NUMBERS)).padStart(2, "0");
  const words = Array.from(
    { length: CODE_WORD_COUNT },
    () => CODE_WORDS[randomBelow(CODE_WORDS.length)],
  );
  return [number, ...words].join("-");
}

/**
 * Reads a code as the user typed it: case, spaces instead of dashes and
 * surrounding blanks do not matter; the result is the canonical form both
 * sides use as the secret.
 *
 * @throws {UsageError} Naming what is wrong: the shape, or a word that is
 * not in the list (a typo shows before any connection is made).
 */
export function normalizeCode(text: string): string {
  const parts = text.trim().toLowerCase().split(/[\s-]+/).filter((part) =>
    part !== ""
  );
  const example = "42-apple-cabin-stone-quiet";
  // Up to 4 digits: a code for --relay has its channel number in front.
  if (parts.length !== CODE_WORD_COUNT + 1 || !/^\d{1,4}$/.test(parts[0])) {
    throw new UsageError(
      `--code expects the code the listener printed: a number and ${CODE_WORD_COUNT} words such as ${example}, got ${
        JSON.stringify(text)
      }`,
    );
  }
  for (const word of parts.slice(1)) {
    if (!CODE_WORDS.includes(word)) {
      throw new UsageError(
        `--code: ${
          JSON.stringify(word)
        } is not one of the code words; check the code the listener printed (such as ${example})`,
      );
    }
  }
  return [parts[0].padStart(2, "0"), ...parts.slice(1)].join("-");
}

/** A secret that was asked for and cannot be read: the CLI exits with 3. */
export class SecretUnreadableError extends Error {
  /**
   * @param message What failed, starting with the flag as typed.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SecretUnreadableError";
  }
}

/**
 * Reads the secret of `--secret-file` or `--secret-env` now (bounded in size,
 * and in time by `timeout`) and returns the connector options with the bytes
 * in place, so that a failure names the flag; other options are returned as
 * they are.
 *
 * @throws {SecretUnreadableError} When the secret cannot be read, naming the
 * flag and the file or variable.
 */
export async function readSecretFlag(
  connector: ConnectorOptions,
  flag: string | undefined,
): Promise<ConnectorOptions> {
  const secret = connector.secret;
  if (
    flag === undefined || typeof secret !== "object" ||
    secret instanceof Uint8Array
  ) {
    return connector;
  }
  // Loaded here: parsing a code (normalizeCode) must not load the PAKE.
  const { parseSecretOption, resolveSecret } = await import("../auth.ts");
  const source = parseSecretOption(secret)!;
  const signal = connector.timeout === undefined
    ? undefined
    : AbortSignal.timeout(connector.timeout);
  try {
    return { ...connector, secret: await resolveSecret(source, signal) };
  } catch (error) {
    const what = "file" in secret ? secret.file : secret.env;
    const reason = error instanceof DOMException &&
        error.name === "TimeoutError"
      ? `timed out after ${connector.timeout} ms reading it`
      : error instanceof Error
      ? error.message
      : String(error);
    throw new SecretUnreadableError(
      `${flag} ${what}: the secret cannot be read: ${reason}`,
      { cause: error },
    );
  }
}

/**
 * Puts the proxy's password, read from the environment variable of
 * `--proxy-password-env`, into the connector's proxy URL.
 *
 * @throws {SecretUnreadableError} When the variable is unset or empty.
 */
export function readProxyPassword(
  connector: ConnectorOptions,
  variable: string,
): ConnectorOptions {
  const password = Deno.env.get(variable);
  if (password === undefined || password === "") {
    throw new SecretUnreadableError(
      `--proxy-password-env ${variable}: the proxy's password cannot be read: the environment variable ${variable} is ${
        password === undefined ? "not set" : "empty"
      }`,
    );
  }
  const url = new URL(String(connector.proxy));
  url.password = password;
  return { ...connector, proxy: url.href };
}
