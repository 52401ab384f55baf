/**
 * Library messages in the CLI's words: the options a library error names
 * (`tls.caCerts`, `tls.hostname`, the `"secret"` option) become the flags
 * the user typed (`--ca`, `--servername`, `--code`, `--secret-file`).
 *
 * @module
 */

const REPLACEMENTS: [RegExp, string][] = [
  [
    /add the CA with tls\.caCerts \(CLI: --ca FILE\)/g,
    "add the CA with --ca FILE",
  ],
  [/set tls\.hostname \(CLI: --servername\)/g, "set --servername NAME"],
  [
    /Invalid option "tls\.hostname": with a client certificate the verified name must be the host dialled/g,
    "--servername must be HOST when connect presents a client certificate (--cert, --key)",
  ],
  [
    /check that both sides use the "secret" option/g,
    "check that both sides use the same --code, --secret-file or --secret-env",
  ],
  [/the "secret" option/g, "--code, --secret-file or --secret-env"],
  [/"?tls\.caCerts(\[\d+\])?"?/g, "--ca"],
  [/"?tls\.caFile"?/g, "--ca"],
  [/"?tls\.certFile"?/g, "--cert"],
  [/"?tls\.keyFile"?/g, "--key"],
  [/"?tls\.cert"?/g, "--cert"],
  [/"?tls\.key"?/g, "--key"],
  [/"?tls\.hostname"?/g, "--servername"],
  [/"?tls\.alpnProtocols"?/g, "--alpn"],
  [/Invalid option --/g, "Invalid --"],
  [
    /or sets encrypt: false or uses TLS\), and this side does: upgrade it, or set encrypt: false on both sides/g,
    "or a program that sets encrypt: false or uses TLS), and this side does: run the same version of connect on both sides",
  ],
  [
    /\(encrypt: false, or TLS\): remove encrypt: false on this side, or set it on both sides/g,
    "(--tls): use --tls on both sides or on neither",
  ],
];

/**
 * Rewrites a library message into the CLI's flag names.
 *
 * @example Usage
 * ```ts
 * import { inCliTerms } from "./messages.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   inCliTerms("unknown issuer; add the CA with tls.caCerts (CLI: --ca FILE)"),
 *   "unknown issuer; add the CA with --ca FILE",
 * );
 * ```
 *
 * @param message A message from the library.
 * @returns The same message naming the CLI's flags.
 */
export function inCliTerms(message: string): string {
  let text = message;
  for (const [pattern, replacement] of REPLACEMENTS) {
    text = text.replace(pattern, replacement);
  }
  return text;
}
