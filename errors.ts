/**
 * The errors of @transfer/connect that carry fields of their own. Each
 * extends the class JavaScript or Deno uses for that kind of failure, so
 * `instanceof TypeError` keeps working, and adds what a program needs to act
 * on it without reading the message: which option was wrong, which option
 * would fix a failure.
 *
 * @module
 */
import { ADVICE } from "./_errors.ts";

/**
 * An option of a {@linkcode Connector} that is malformed or does not fit the
 * others: thrown by `new Connector()` before anything is touched. The message
 * reads `Invalid option "<option>": <reason>`; a program that presents
 * options under other names (a command line, a form) builds its own from
 * {@linkcode InvalidOptionError.option} and {@linkcode InvalidOptionError.reason}.
 *
 * @example Usage
 * ```ts
 * import { Connector, InvalidOptionError } from "@transfer/connect";
 * import { assertEquals, assertInstanceOf } from "@std/assert";
 *
 * try {
 *   new Connector({ port: 443, tls: { hostname: "" } });
 * } catch (error) {
 *   assertInstanceOf(error, InvalidOptionError);
 *   assertInstanceOf(error, TypeError);
 *   assertEquals(error.option, "tls.hostname");
 *   assertEquals(error.reason, "expected a non-empty string");
 * }
 * ```
 */
export class InvalidOptionError extends TypeError {
  /**
   * The option, as a path into the options object: `"tls"`,
   * `"tls.hostname"`, `"tls.caCerts[0]"`.
   */
  readonly option: string;
  /** What is wrong with it and what is accepted, without the option's name. */
  readonly reason: string;

  /**
   * Makes the error; its message names the option and the reason.
   *
   * @param option The option's path, e.g. `"tls.hostname"`.
   * @param reason What is wrong and what is accepted.
   * @param options The standard error options (`cause`).
   */
  constructor(option: string, reason: string, options?: ErrorOptions) {
    super(`Invalid option "${option}": ${reason}`, options);
    this.name = "InvalidOptionError";
    this.option = option;
    this.reason = reason;
  }
}

/**
 * What the library suggests doing about a failure, in terms of an option:
 * the error's message ends with `; <action> <option>`. Read it with
 * {@linkcode adviceOf}; it is attached to errors of Deno's classes (a TLS
 * handshake failure stays a `Deno.errors.InvalidData`).
 */
export interface OptionAdvice {
  /** What went wrong: the message without the advice. */
  readonly problem: string;
  /** What to do, the words before the option: `"add the CA with"`. */
  readonly action: string;
  /** The option that fixes it, as a path: `"tls.caCerts"`. */
  readonly option: string;
}

/**
 * The option advice the library attached to an error, if any.
 *
 * @example Usage
 * ```ts
 * import { adviceOf } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(adviceOf(new Error("anything")), undefined);
 * ```
 *
 * @param error What a call of the library threw.
 * @returns The advice, or `undefined` when the error carries none.
 */
export function adviceOf(error: unknown): OptionAdvice | undefined {
  if (!(error instanceof Error)) return undefined;
  return (error as Error & { [ADVICE]?: OptionAdvice })[ADVICE];
}
