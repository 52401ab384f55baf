/**
 * The parseArgs stand-in against the real `@std/cli/parse-args`, on random
 * command lines and the option sets this project uses. It can only run where
 * `@std/cli/parse-args` resolves to the real package (`deno task test:jsr`);
 * under the offline import map both names are the stand-in, so it is marked
 * ignored there rather than comparing the stand-in with itself.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { parseArgs as realParseArgs } from "@std/cli/parse-args";
import { parseArgs, type ParseOptions } from "./cli/parse_args.ts";
import { seededRandom } from "../../tests/_helpers.ts";

const standIn = new URL("./cli/parse_args.ts", import.meta.url).href;
const resolved = import.meta.resolve("@std/cli/parse-args");

const PIECES = [
  "connect",
  "listen",
  "9000",
  "-1",
  "0x10",
  " 80",
  "1e3",
  "",
  "-",
  "--",
  "---",
  "true",
  "false",
  "x.pem",
  "a\nb",
  "Infinity",
  "::1",
  "10.0.0.0/8",
  "--tls",
  "--tls=false",
  "--tls=yes",
  "--tls=",
  "--no-tls",
  "--no-tls=1",
  "--host",
  "--host=",
  "--host=a=b",
  "--allow",
  "--allow=1.2.3.4",
  "--alpn",
  "--timeout",
  "--timeout=5",
  "--help",
  "--bogus",
  "--bogus=1",
  "--no-",
  "--=",
  "--=x",
  "--no-=x",
  "-h",
  "-hx",
  "-xh",
  "-h=1",
  "-h5",
  "-x",
  "-xy",
  "-x-",
  "-x=",
  "-ab=c",
  "-n5",
  "-a.b",
  "-é",
  "--a.b",
  "--constructor",
  "--__proto__",
  "--no-help",
  "-1x",
  "-x1",
  "--json",
];

/** The option sets of cli/flags.ts, the bench scripts and a wide one. */
const OPTION_SETS: ParseOptions[] = [
  {
    boolean: ["tls", "json", "help", "version", "quiet"],
    string: ["host", "timeout", "allow", "alpn"],
    collect: ["allow", "alpn"],
    alias: { h: "help" },
  },
  { string: ["rounds", "pairs", "tls-pairs", "out"] },
  {
    string: ["bytes", "runs", "out", "timeout"],
    boolean: ["skip-startup", "help"],
    default: { bytes: "1GiB", runs: "5" },
  },
  {
    boolean: ["tls", "x"],
    collect: ["allow", "x"],
    negatable: ["tls"],
    alias: { h: ["help", "?"], a: "allow" },
    default: { "a.b": 1 },
    "--": true,
  },
  { boolean: true, stopEarly: true },
];

function run(
  parse: typeof parseArgs,
  args: string[],
  options: ParseOptions,
): unknown {
  const calls: unknown[] = [];
  try {
    const result = parse(args, {
      ...options,
      unknown: (arg: string, key?: string, value?: unknown) => {
        calls.push([arg, key, value]);
        return !arg.includes("bogus");
      },
    });
    return { result, calls };
  } catch (error) {
    return { threw: String(error), calls };
  }
}

Deno.test({
  name:
    "parseArgs stand-in gives the real @std/cli parseArgs's result and unknown() calls for 20,000 random command lines",
  ignore: resolved === standIn,
  fn() {
    const random = seededRandom(0x5eed);
    const pick = <T>(items: readonly T[]) =>
      items[Math.floor(random() * items.length)];
    const failures: string[] = [];
    for (let index = 0; index < 20_000; index++) {
      const args = Array.from(
        { length: Math.floor(random() * 6) },
        () => pick(PIECES),
      );
      const options = pick(OPTION_SETS);
      const expected = run(
        realParseArgs as unknown as typeof parseArgs,
        args,
        options,
      );
      const actual = run(parseArgs, args, options);
      try {
        assertEquals(actual, expected);
      } catch {
        failures.push(
          `${JSON.stringify(args)} with ${
            JSON.stringify(Object.keys(options))
          }: stand-in ${Deno.inspect(actual)} real ${Deno.inspect(expected)}`,
        );
      }
    }
    assertEquals(failures.length, 0, failures.slice(0, 5).join("\n"));
  },
});
