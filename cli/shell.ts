/**
 * Quoting for POSIX shells: the counterpart command `listen --code` prints,
 * and the benchmarks' command lines.
 *
 * @module
 */

/**
 * Quotes a word for a POSIX shell (sh, bash, zsh): a word of safe characters
 * as it is, anything else in single quotes (a `'` inside becomes `'\''`).
 *
 * @example Usage
 * ```ts
 * import { shellQuote } from "./shell.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(shellQuote("--allow-net=HOST:9000"), "--allow-net=HOST:9000");
 * assertEquals(shellQuote("it's"), `'it'\\''s'`);
 * assertEquals(shellQuote(""), "''");
 * ```
 *
 * @param word One argument.
 * @returns The argument as the shell must read it.
 */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word)
    ? word
    : `'${word.replaceAll("'", `'\\''`)}'`;
}
