// Pins the documented `@std/path` behaviour (POSIX) that the offline
// stand-ins mirror, so that `deno task test` and `deno task test:jsr` agree.
import { assertEquals, assertThrows } from "@std/assert";
import { isAbsolute } from "@std/path/is-absolute";
import { normalize } from "@std/path/normalize";
import { resolve } from "@std/path/resolve";

Deno.test("@std/path normalize folds ., .. and repeated separators, and keeps a trailing /", () => {
  const cases: [string, string][] = [
    ["/foo/bar//baz/asdf/quux/..", "/foo/bar/baz/asdf"],
    ["//a//b", "/a/b"],
    ["a/b/", "a/b/"],
    ["a/./b/.", "a/b"],
    ["", "."],
    [".", "."],
    ["./", "./"],
    ["a/..", "."],
    ["a/../", "./"],
    ["a/../..", ".."],
    ["../a/../../b/", "../../b/"],
    ["/../a", "/a"],
    ["/..", "/"],
    ["/", "/"],
    ["...", "..."],
    ["a/.../..", "a"],
    ["..a/..", "."],
  ];
  for (const [path, expected] of cases) {
    assertEquals(normalize(path), expected, JSON.stringify(path));
  }
  assertThrows(() => normalize(1 as unknown as string), TypeError);
});

Deno.test("@std/path resolve makes a path absolute from the cwd or the last absolute segment, without a trailing /", () => {
  const cwd = Deno.cwd();
  const inCwd = (path: string) => cwd === "/" ? `/${path}` : `${cwd}/${path}`;
  assertEquals(
    resolve("/foo", "bar", "baz/asdf", "quux", ".."),
    "/foo/bar/baz/asdf",
  );
  assertEquals(resolve("/a", "/b", "c"), "/b/c");
  assertEquals(resolve("/a/"), "/a");
  assertEquals(resolve("/a/../.."), "/");
  assertEquals(resolve("/x", ""), "/x");
  assertEquals(resolve("a.sock"), inCwd("a.sock"));
  assertEquals(resolve("./a/./b/../c.sock"), inCwd("a/c.sock"));
  assertEquals(resolve(""), cwd);
  assertEquals(resolve(), cwd);
  assertThrows(() => resolve(undefined as unknown as string), TypeError);
});

Deno.test("@std/path isAbsolute is true for a leading / only", () => {
  assertEquals(
    ["/", "/a", "a", "./a", "", "~/a"].map(isAbsolute),
    [true, true, false, false, false, false],
  );
});
