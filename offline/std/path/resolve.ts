/**
 * OFFLINE STAND-IN for `jsr:@std/path/resolve` (see offline/README.md):
 * `resolve` with the POSIX rules of `@std/path` 1.1.6, written from its
 * documentation and tests (its source was read, not copied), importing only
 * the sibling stand-in. offline/std/path_standins_test.ts pins the behaviour
 * under both import maps. Not published.
 *
 * The rules: the segments are read from the last to the first until one is
 * absolute (empty ones are skipped); when none is, the current directory
 * (`Deno.cwd()`) goes in front. The result is folded as `normalize` folds it,
 * without a trailing `/`; the root is `"/"`.
 *
 * @module
 */
import { assertPath, foldSegments } from "./normalize.ts";

/**
 * Resolves `segments` into an absolute path (POSIX rules of `@std/path`
 * 1.1.6, see above).
 *
 * @param segments The path segments, the last one first in importance.
 * @returns The absolute, normalized path.
 */
export function resolve(...segments: string[]): string {
  let joined = "";
  for (let index = segments.length - 1; index >= -1; index--) {
    const segment = index >= 0 ? segments[index] : Deno.cwd();
    assertPath(segment);
    if (segment === "") continue;
    joined = `${segment}/${joined}`;
    if (segment.startsWith("/")) break;
  }
  return `/${foldSegments(joined, false)}`;
}
