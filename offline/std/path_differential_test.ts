/**
 * The `@std/path` stand-ins against the real package, on random POSIX paths
 * built from the pieces that make the rules differ (`.`, `..`, `...`, empty
 * segments, leading and trailing `/`). Runs where `@std/path` resolves to the
 * real package (`deno task test:jsr`); under the offline import map both
 * names are the stand-in, so it is marked ignored there.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { isAbsolute as realIsAbsolute } from "@std/path/is-absolute";
import { normalize as realNormalize } from "@std/path/normalize";
import { resolve as realResolve } from "@std/path/resolve";
import { isAbsolute } from "./path/is_absolute.ts";
import { normalize } from "./path/normalize.ts";
import { resolve } from "./path/resolve.ts";
import { seededRandom } from "../../tests/_helpers.ts";

const standIn = new URL("./path/normalize.ts", import.meta.url).href;
const resolved = import.meta.resolve("@std/path/normalize");

const PIECES = ["", ".", "..", "...", "a", "bc", ".x", "x.", "a.sock", "~"];

function randomPath(random: () => number): string {
  const count = Math.floor(random() * 7);
  const pieces = Array.from(
    { length: count },
    () => PIECES[Math.floor(random() * PIECES.length)],
  );
  return pieces.join("/");
}

Deno.test({
  name:
    "@std/path stand-ins give the real normalize, resolve and isAbsolute on 20,000 random paths",
  ignore: resolved === standIn,
  fn() {
    const random = seededRandom(0x9a7);
    for (let round = 0; round < 20_000; round++) {
      const path = randomPath(random);
      const other = randomPath(random);
      const shown = JSON.stringify([path, other]);
      assertEquals(normalize(path), realNormalize(path), shown);
      assertEquals(isAbsolute(path), realIsAbsolute(path), shown);
      assertEquals(resolve(path), realResolve(path), shown);
      assertEquals(resolve(other, path), realResolve(other, path), shown);
    }
  },
});
