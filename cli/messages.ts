/**
 * Library errors in the CLI's words. The library names its options
 * (`tls.caCerts`, `tls.hostname`) in structured fields
 * ({@linkcode InvalidOptionError}, {@linkcode OptionRangeError},
 * {@linkcode adviceOf}); this table turns
 * them into the flags the user typed (`--ca FILE`, `--servername NAME`).
 *
 * @module
 */
import {
  adviceOf,
  EncryptionMismatchError,
  InvalidOptionError,
  OptionRangeError,
} from "../errors.ts";

/** A flag and the placeholder of its value, as `--help` shows them. */
interface Flag {
  flag: string;
  value: string;
}

/** The flag that sets each connector option the CLI exposes. */
const OPTION_FLAGS: Readonly<Record<string, Flag>> = {
  "tls.caCerts": { flag: "--ca", value: "FILE" },
  "tls.caFile": { flag: "--ca", value: "FILE" },
  "tls.cert": { flag: "--cert", value: "FILE" },
  "tls.certFile": { flag: "--cert", value: "FILE" },
  "tls.key": { flag: "--key", value: "FILE" },
  "tls.keyFile": { flag: "--key", value: "FILE" },
  "tls.hostname": { flag: "--servername", value: "NAME" },
  "tls.alpnProtocols": { flag: "--alpn", value: "PROTOCOL" },
  proxy: { flag: "--proxy", value: "URL" },
};

/** The flag for an option path such as `tls.caCerts[0]`, if the CLI has one. */
function flagOf(option: string): Flag | undefined {
  const bracket = option.indexOf("[");
  return OPTION_FLAGS[bracket === -1 ? option : option.slice(0, bracket)];
}

/**
 * The message of an error, naming the CLI's flags where the library names an
 * option.
 *
 * @example Usage
 * ```ts
 * import { inCliTerms } from "./messages.ts";
 * import { InvalidOptionError } from "../errors.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   inCliTerms(new InvalidOptionError("tls.hostname", "expected a name")),
 *   "Invalid --servername: expected a name",
 * );
 * assertEquals(inCliTerms(new Error("refused")), "refused");
 * ```
 *
 * @param error What the library (or anything else) threw.
 * @returns Its message in the CLI's terms.
 */
export function inCliTerms(error: unknown): string {
  if (error instanceof EncryptionMismatchError) {
    return mismatchInCliTerms(error);
  }
  if (
    error instanceof InvalidOptionError || error instanceof OptionRangeError
  ) {
    const flag = flagOf(error.option);
    if (flag !== undefined) return `Invalid ${flag.flag}: ${error.reason}`;
  }
  const advice = adviceOf(error);
  const flag = advice && flagOf(advice.option);
  if (advice !== undefined && flag !== undefined) {
    return `${advice.problem}; ${advice.action} ${flag.flag} ${flag.value}`;
  }
  return reasonOf(error);
}

/**
 * The message of an error, or the value itself as text when it is not one.
 *
 * @example Usage
 * ```ts
 * import { reasonOf } from "./messages.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(reasonOf(new Error("refused")), "refused");
 * assertEquals(reasonOf("stopped"), "stopped");
 * ```
 *
 * @param error Anything thrown or given as an abort reason.
 * @returns A message for it.
 */
export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The encryption mismatch in the CLI's words: two CLIs with a code or secret
 * always encrypt unless one uses --tls; a peer without encryption is a
 * program that turned it off, or an older version.
 */
function mismatchInCliTerms(error: EncryptionMismatchError): string {
  return error.peerEncrypts
    ? `${error.problem}: use --tls on both sides or on neither`
    : `${error.problem}: run the same version of connect on both sides, with --tls on both or on neither`;
}
