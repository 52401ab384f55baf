/**
 * OFFLINE STAND-IN for `jsr:@std/path/normalize` (see offline/README.md):
 * `normalize` with the POSIX rules of `@std/path` 1.1.6, written from its
 * documentation and tests (its source was read, not copied), importing
 * nothing. The project runs where paths are POSIX (unix sockets, /proc), so
 * only those rules are mirrored; strings only (the real one also takes a
 * `file:` URL). offline/std/path_standins_test.ts pins the behaviour under
 * both import maps. Not published.
 *
 * The rules: `.` segments and empty ones (`//`) go; `..` removes the segment
 * before it, and at the start stays in a relative path and goes in an
 * absolute one; `""` and a path that folds to nothing become `"."`; a
 * trailing `/` is kept.
 *
 * @module
 */

/** Throws the real package's TypeError for a value that is not a string. */
export function assertPath(path: unknown): asserts path is string {
  if (typeof path !== "string") {
    throw new TypeError(
      `Path must be a string, received "${JSON.stringify(path)}"`,
    );
  }
}

/**
 * The segments of `path` with `.`, empty segments and `..` folded; `..` that
 * climbs above the start is kept when `relative`, dropped otherwise.
 */
export function foldSegments(path: string, relative: boolean): string {
  const kept: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") kept.push(segment);
    else if (kept.length > 0 && kept[kept.length - 1] !== "..") kept.pop();
    else if (relative) kept.push("..");
  }
  return kept.join("/");
}

/**
 * Normalizes `path`: folds `.`, `..` and repeated separators (POSIX rules of
 * `@std/path` 1.1.6, see above).
 *
 * @param path The path to normalize.
 * @returns The normalized path.
 */
export function normalize(path: string): string {
  assertPath(path);
  const absolute = path.startsWith("/");
  let folded = foldSegments(path, !absolute);
  if (folded === "" && !absolute) folded = ".";
  if (folded !== "" && path.endsWith("/")) folded += "/";
  return absolute ? `/${folded}` : folded;
}
