/**
 * CLI start-up against an empty `deno run`, measured so that a shared, busy
 * machine cannot tilt the ratio: the commands run in alternating rounds (one
 * run of each, then again), and the ratio is taken between the medians. A
 * tool such as hyperfine runs every command as one block, so a burst of other
 * work lands on one of them.
 *
 * ```sh
 * deno run -A --import-map=offline/import_map.json bench/startup_interleaved.ts \
 *   [--rounds 60] [--out FILE]
 * ```
 *
 * The empty file lives in a fresh temporary directory (no configuration file
 * to discover), as `deno run empty.ts` anywhere else would.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { median } from "./stats.ts";

const REPOSITORY = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();
const IMPORT_MAP = "--import-map=offline/import_map.json";

/** Milliseconds from spawning `args` to its exit (stdout and stderr dropped). */
async function timeRun(args: string[]): Promise<number> {
  const started = performance.now();
  const { code } = await new Deno.Command(DENO, {
    args,
    cwd: REPOSITORY,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  const elapsed = performance.now() - started;
  if (code !== 0) throw new Error(`deno ${args.join(" ")} exited ${code}`);
  return elapsed;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args.filter((arg) => arg !== "--"), {
    string: ["rounds", "out"],
  });
  const rounds = Number(args.rounds ?? 60);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(`Invalid --rounds "${args.rounds}": an integer ≥ 1`);
  }
  const directory = await Deno.makeTempDir({ prefix: "connect_startup_" });
  try {
    const empty = `${directory}/empty.ts`;
    await Deno.writeTextFile(empty, "");
    const commands: [string, string[]][] = [
      ["empty `deno run`", ["run", empty]],
      ["`cli.ts --version`", ["run", IMPORT_MAP, "cli.ts", "--version"]],
      ["`cli.ts --help`", ["run", IMPORT_MAP, "cli.ts", "--help"]],
    ];
    const times = commands.map(() => [] as number[]);
    // One unmeasured run each (Deno caches the transpiled modules).
    for (const [, command] of commands) await timeRun(command);
    for (let round = 0; round < rounds; round++) {
      for (const [index, [, command]] of commands.entries()) {
        times[index].push(await timeRun(command));
      }
    }
    const base = median(times[0]);
    const lines = [
      `### Start-up, interleaved: ${rounds} rounds`,
      "",
      "| command | median ms | min ms | ÷ empty `deno run` (medians) | per-round ratios, median | ÷ (minimums) |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...commands.map(([name], index) =>
        `| ${name} | ${median(times[index]).toFixed(1)} | ${
          Math.min(...times[index]).toFixed(1)
        } | ${(median(times[index]) / base).toFixed(2)}× | ${
          median(times[index].map((time, round) => time / times[0][round]))
            .toFixed(2)
        }× | ${
          (Math.min(...times[index]) / Math.min(...times[0])).toFixed(2)
        }× |`
      ),
    ];
    const markdown = lines.join("\n") + "\n";
    console.log(markdown);
    if (typeof args.out === "string") {
      await Deno.writeTextFile(args.out, markdown);
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

if (import.meta.main) {
  await main();
}
