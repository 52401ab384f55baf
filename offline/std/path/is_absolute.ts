/**
 * OFFLINE STAND-IN for `jsr:@std/path/is-absolute` (see offline/README.md):
 * `isAbsolute` with the POSIX rule of `@std/path` 1.1.6 (a path is absolute
 * when it starts with `/`), written from its documentation, importing only
 * the sibling stand-in. Not published.
 *
 * @module
 */
import { assertPath } from "./normalize.ts";

/**
 * Whether `path` is absolute (POSIX: it starts with `/`).
 *
 * @param path The path to check.
 * @returns `true` when it starts with `/`.
 */
export function isAbsolute(path: string): boolean {
  assertPath(path);
  return path.startsWith("/");
}
