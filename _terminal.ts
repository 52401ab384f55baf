/**
 * Whether stdin is a terminal, asked of the system once per process: Deno
 * can only prompt for a permission when it is, so every `listen()` and
 * `connect()` needs the answer, and asking costs a system call and several
 * µs each time (about 5% of a plain TCP pair). Nothing in a Deno program can
 * replace its stdin, so the first answer holds.
 *
 * @module
 */

let stdinTerminal: boolean | undefined;

/** `Deno.stdin.isTerminal()`, asked once and remembered. */
export function stdinIsTerminal(): boolean {
  return stdinTerminal ??= Deno.stdin.isTerminal();
}
