/**
 * Internal: what the library shares with its own command-line tool (`cli.ts`
 * and `cli/`) beyond the public API of `mod.ts`. It is not an export of
 * `deno.json`, so programs cannot import it, and nothing in it is covered by
 * the package's version: the CLI moves with the library.
 *
 * - Strict address parsing: {@linkcode parseHost}, {@linkcode parseAddressRange}
 *   (the CLI refuses a bad `--host` or `--allow` entry as a usage error, with
 *   the library's rules).
 * - File access with errors that name the file and the missing
 *   `--allow-read`/`--allow-write` flag: {@linkcode accessFile}.
 * - Waiting unless a signal aborts first: {@linkcode raceAbort}.
 * - The library's one whole write and one exact read: {@linkcode writeAll},
 *   {@linkcode readUpTo} (fewer bytes only when the stream ends first).
 *
 * @module
 */
export { parseAddressRange, parseHost } from "./_ip.ts";
export { accessFile } from "./_files.ts";
export { raceAbort } from "./_abort.ts";
export { readUpTo, withRead, writeAll } from "./_io.ts";
