/**
 * Throughput through magic-wormhole's transit relay against a direct
 * connection: the `connect` CLI with `--code` both ways, the same source
 * (`head -c BYTES /dev/zero`) and the same sink (a pipe to `wc -c`), runs
 * interleaved (direct, relay, direct, ...). Prints a Markdown table on
 * stdout; progress on stderr. Needs Debian's magic-wormhole-transit-relay
 * (started here on loopback with /usr/bin/python3) and bash.
 *
 * ```sh
 * deno run -A --import-map=offline/import_map.json bench/relay.ts \
 *   [--bytes 268435456] [--runs 5]
 * ```
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { median } from "./stats.ts";
import { shellQuote } from "../cli/shell.ts";

const REPOSITORY = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();
const MB = 1e6;

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** The CLI as a shell command (offline import map, only the net flag it needs). */
function cliLine(net: string, args: string[]): string {
  return [
    DENO,
    "run",
    "--no-prompt",
    "--import-map=offline/import_map.json",
    `--allow-net=${net}`,
    "cli.ts",
    ...args,
  ].map(shellQuote).join(" ");
}

async function waitForCode(path: string, deadline: number): Promise<string> {
  while (Date.now() < deadline) {
    const text = await Deno.readTextFile(path).catch(() => "");
    const match = /code: (\S+)\n/.exec(text);
    if (match) return match[1];
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no code in ${path}`);
}

async function waitListening(port: number): Promise<void> {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (let tries = 0; tries < 1000; tries++) {
    const table = await Deno.readTextFile("/proc/net/tcp");
    if (table.includes(`${hex} 00000000:0000 0A`)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** One transfer of `bytes`: seconds from the connector's start to both exits. */
async function run(
  bytes: number,
  relayPort: number | undefined,
  dir: string,
): Promise<number> {
  const port = freePort();
  const where = relayPort === undefined
    ? `127.0.0.1:${port}`
    : `127.0.0.1:${relayPort}`;
  const listenArgs = relayPort === undefined
    ? ["listen", String(port), "--host", "127.0.0.1"]
    : ["listen", "--relay", where];
  const errors = `${dir}/listen.err`;
  await Deno.remove(errors).catch(() => {});
  const count = `${dir}/count`;
  const listener = new Deno.Command("bash", {
    args: [
      "-c",
      `${
        cliLine(where, [...listenArgs, "--code", "--recv-only", "--quiet"])
      } 2>${shellQuote(errors)} </dev/null | wc -c >${shellQuote(count)}`,
    ],
    cwd: REPOSITORY,
    stdin: "null",
  }).spawn();
  const code = await waitForCode(errors, Date.now() + 30_000);
  const connectArgs = relayPort === undefined
    ? ["connect", "127.0.0.1", String(port)]
    : ["connect", "--relay", where];
  const started = performance.now();
  const sender = await new Deno.Command("bash", {
    args: [
      "-c",
      `head -c ${bytes} /dev/zero | ${
        cliLine(where, [
          ...connectArgs,
          "--code",
          code,
          "--send-only",
          "--quiet",
        ])
      }`,
    ],
    cwd: REPOSITORY,
    stdin: "null",
  }).output();
  const received = await listener.status;
  const seconds = (performance.now() - started) / 1000;
  const counted = Number((await Deno.readTextFile(count)).trim());
  if (sender.code !== 0 || received.code !== 0 || counted !== bytes) {
    throw new Error(
      `transfer failed: sender ${sender.code}, receiver ${received.code}, ${counted} of ${bytes} bytes; ${
        new TextDecoder()
          .decode(sender.stderr)
      }${await Deno.readTextFile(errors)}`,
    );
  }
  return seconds;
}

if (import.meta.main) {
  const flags = parseArgs(Deno.args, {
    string: ["bytes", "runs"],
    default: { bytes: String(256 * 1024 * 1024), runs: "5" },
  });
  const bytes = Number(flags.bytes);
  const runs = Number(flags.runs);
  const relayPort = freePort();
  const dir = await Deno.makeTempDir({ prefix: "connect_relay_bench_" });
  const relay = new Deno.Command("/usr/bin/python3", {
    args: [
      "-m",
      "twisted",
      "transitrelay",
      `--port=tcp:${relayPort}:interface=127.0.0.1`,
    ],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const times = { direct: [] as number[], relay: [] as number[] };
  try {
    await waitListening(relayPort);
    for (let round = 1; round <= runs; round++) {
      for (const mode of ["direct", "relay"] as const) {
        const seconds = await run(
          bytes,
          mode === "relay" ? relayPort : undefined,
          dir,
        );
        times[mode].push(seconds);
        console.error(
          `round ${round} ${mode}: ${(bytes / MB / seconds).toFixed(0)} MB/s`,
        );
      }
    }
  } finally {
    relay.kill("SIGTERM");
    await relay.status;
    await Deno.remove(dir, { recursive: true });
  }
  const rate = (list: number[]) => bytes / MB / median(list);
  const direct = rate(times.direct);
  const relayed = rate(times.relay);
  console.log(
    `| ${bytes} bytes, ${runs} interleaved runs, median | MB/s | vs direct |`,
  );
  console.log("| --- | ---: | ---: |");
  console.log(`| direct, --code | ${direct.toFixed(0)} | 1.00 |`);
  console.log(
    `| through the transit relay (Debian 0.2.1), --code | ${
      relayed.toFixed(0)
    } | ${(relayed / direct).toFixed(2)} |`,
  );
  // Each round's relay run against its own direct run: less exposed to
  // load that drifts over the session.
  const ratios = times.relay.map((seconds, round) =>
    times.direct[round] / seconds
  );
  console.log(
    `\nmedian of the per-round ratios (relay / direct): ${
      median(ratios).toFixed(2)
    } (${ratios.map((ratio) => ratio.toFixed(2)).join(", ")})`,
  );
}
