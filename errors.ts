/**
 * The errors of @transfer/connect that carry fields of their own. Each
 * extends the class JavaScript or Deno uses for that kind of failure, so
 * `instanceof TypeError` keeps working, and adds what a program needs to act
 * on it without reading the message: which option was wrong, which option
 * would fix a failure. Where a Deno class means several things (a peer
 * turned away by the allow list, or one holding another secret), each meaning
 * has its own subclass. The README's error table lists them all.
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
 * An option of a {@linkcode Connector} whose value is of the right type but
 * out of range (a port, a time, a retry count, a proxy URL's port or
 * credentials): thrown by `new Connector()` before anything is touched. The
 * message reads `Invalid option "<option>": <reason>`, as for
 * {@linkcode InvalidOptionError}, and the same two fields let a program name
 * the option in its own terms.
 *
 * @example Usage
 * ```ts
 * import { Connector, OptionRangeError } from "@transfer/connect";
 * import { assertEquals, assertInstanceOf } from "@std/assert";
 *
 * try {
 *   new Connector({ host: "127.0.0.1", port: 70000 });
 * } catch (error) {
 *   assertInstanceOf(error, OptionRangeError);
 *   assertInstanceOf(error, RangeError);
 *   assertEquals(error.option, "port");
 *   assertEquals(error.reason, "70000 is not an integer from 1 to 65535");
 * }
 * ```
 */
export class OptionRangeError extends RangeError {
  /** The option, as a path into the options object: `"port"`, `"retry.delay"`. */
  readonly option: string;
  /** What is out of range and what is accepted, without the option's name. */
  readonly reason: string;

  /**
   * Makes the error; its message names the option and the reason.
   *
   * @param option The option's path, e.g. `"retry.attempts"`.
   * @param reason What is out of range and what is accepted.
   * @param options The standard error options (`cause`).
   */
  constructor(option: string, reason: string, options?: ErrorOptions) {
    super(`Invalid option "${option}": ${reason}`, options);
    this.name = "OptionRangeError";
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

/**
 * The peer did not prove it holds the same code or secret: a wrong code, a
 * guess, or a peer that turned this side away for holding another one. The
 * message says nothing about either secret. Rejected by `connect()` on the
 * active side, given to `onRejectedPeer` on the passive side (which waits on).
 *
 * @example Usage
 * ```ts
 * import { AuthenticationError } from "@transfer/connect";
 * import { assertInstanceOf } from "@std/assert";
 *
 * const error = new AuthenticationError("Authentication failed");
 * assertInstanceOf(error, Deno.errors.PermissionDenied);
 * ```
 */
export class AuthenticationError extends Deno.errors.PermissionDenied {
  /** The class name, as stack traces and `String(error)` show it. */
  override name = "AuthenticationError";
}

/**
 * A peer whose address the `allow` list does not contain: closed at once and
 * given to `onRejectedPeer`; the passive connector waits on.
 *
 * @example Usage
 * ```ts
 * import { NotAllowedError } from "@transfer/connect";
 * import { assertInstanceOf } from "@std/assert";
 *
 * const error = new NotAllowedError("not in the allow list");
 * assertInstanceOf(error, Deno.errors.PermissionDenied);
 * ```
 */
export class NotAllowedError extends Deno.errors.PermissionDenied {
  /** The class name, as stack traces and `String(error)` show it. */
  override name = "NotAllowedError";
}

/**
 * A peer the passive side dropped to make room: more peers were being vetted
 * (TLS handshake, secret exchange) at once than the queue holds, or the
 * process ran out of file descriptors, or more hellos were waiting for an
 * answer than it keeps. Given to `onRejectedPeer`; the passive connector waits
 * on. The active side that was dropped with the overload notice gets it from
 * `connect()`. Under a flood, see docs/vetting.md.
 *
 * @example Usage
 * ```ts
 * import { QueueFullError } from "@transfer/connect";
 * import { assertInstanceOf } from "@std/assert";
 *
 * const error = new QueueFullError("dropped: the queue was full");
 * assertInstanceOf(error, Deno.errors.Busy);
 * ```
 */
export class QueueFullError extends Deno.errors.Busy {
  /** The class name, as stack traces and `String(error)` show it. */
  override name = "QueueFullError";
}

/**
 * `connect()` was called a second time on a connector: a connector sets up
 * one connection; create another connector for another one.
 *
 * @example Usage
 * ```ts
 * import { Connector, ConnectorUsedError } from "@transfer/connect";
 * import { assertRejects } from "@std/assert";
 *
 * await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
 * await passive.listen();
 * const first = passive.connect();
 * await assertRejects(() => passive.connect(), ConnectorUsedError);
 * passive.close();
 * await assertRejects(() => first, Deno.errors.Interrupted);
 * ```
 */
export class ConnectorUsedError extends Deno.errors.Busy {
  /** The class name, as stack traces and `String(error)` show it. */
  override name = "ConnectorUsedError";
}

/**
 * The two sides disagree on encrypting the stream: one announced it in the
 * secret exchange and the other did not (`encrypt: false`, TLS, or a
 * @transfer/connect from before the encrypted stream). Both sides fail alike,
 * after the exchange, each with this error.
 *
 * @example Usage
 * ```ts
 * import { EncryptionMismatchError } from "@transfer/connect";
 * import { assert, assertInstanceOf } from "@std/assert";
 *
 * const error = new EncryptionMismatchError(
 *   "the peer does not encrypt",
 *   "set encrypt: false on both sides",
 *   false,
 * );
 * assertInstanceOf(error, Deno.errors.InvalidData);
 * assert(!error.peerEncrypts);
 * ```
 */
export class EncryptionMismatchError extends Deno.errors.InvalidData {
  /** The class name, as stack traces and `String(error)` show it. */
  override name = "EncryptionMismatchError";
  /** What happened, without what to do about it. */
  readonly problem: string;
  /** Whether the peer is the side that encrypts (and so this side does not). */
  readonly peerEncrypts: boolean;

  /**
   * Makes the error; its message is `problem: action`.
   *
   * @param problem What happened, naming the peer.
   * @param action What to do, in the library's terms.
   * @param peerEncrypts Whether the peer is the side that encrypts.
   */
  constructor(problem: string, action: string, peerEncrypts: boolean) {
    super(`${problem}: ${action}`);
    this.problem = problem;
    this.peerEncrypts = peerEncrypts;
  }
}
