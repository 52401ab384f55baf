/**
 * Every code this package shows a reader (README, docs/, `--help`, messages
 * and JSDoc in the sources) is a code the CLI accepts.
 *
 * @module
 */
import { assert, assertEquals, assertGreater } from "@std/assert";
import { HELP } from "../cli/args.ts";
import { normalizeCode } from "../cli/code.ts";
import { runCli } from "./_cli.ts";

const ROOT = new URL("..", import.meta.url);
/** A number and four words: what a code looks like. */
const CODE_SHAPE = /\b\d{1,2}(?:-[a-z]{3,}){4}\b/g;

/** The text files a reader sees: README, docs and every non-test source. */
async function shownFiles(): Promise<string[]> {
  const files = ["README.md"];
  for (const folder of ["docs", "cli", "."]) {
    for await (const entry of Deno.readDir(new URL(folder + "/", ROOT))) {
      if (
        entry.isFile &&
        (entry.name.endsWith(".md") || entry.name.endsWith(".ts")) &&
        !(folder === "." && entry.name === "README.md")
      ) {
        files.push(folder === "." ? entry.name : `${folder}/${entry.name}`);
      }
    }
  }
  return files;
}

Deno.test("every code shown in README, docs, sources and --help parses with the CLI's parser", async () => {
  const found: string[] = [];
  for (const file of await shownFiles()) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    for (const [code] of text.matchAll(CODE_SHAPE)) {
      found.push(`${file}: ${code}`);
      normalizeCode(code); // throws, naming the word, on an invalid code
    }
  }
  const help = await runCli(["--help"], { permissions: [] });
  assertEquals(help.code, 0);
  const helpText = new TextDecoder().decode(help.stdout);
  assertEquals(helpText, HELP);
  const inHelp = [...helpText.matchAll(CODE_SHAPE)].map(([code]) => code);
  assertGreater(inHelp.length, 0, "--help shows a code");
  for (const code of inHelp) assertEquals(normalizeCode(code), code);
  assert(found.some((line) => line.startsWith("README.md")), found.join("\n"));
  assert(found.some((line) => line.startsWith("docs/")), found.join("\n"));
});

Deno.test("the parser refuses a code with a word that is not a code word", () => {
  let refused = false;
  try {
    normalizeCode("42-apple-river-stone-quick");
  } catch {
    refused = true;
  }
  assert(refused, "river and quick are not code words");
});
