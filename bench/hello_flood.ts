/**
 * Hello-flood benchmark of a passive connector: a native flooder
 * (bench/hello_flood.c, compiled with `cc` into a temporary directory) opens
 * connections from a loopback address of its own — a fresh one per run, so
 * that no port of an earlier run is in TIME_WAIT — each sending one
 * well-formed hello of the secret exchange and closing at once. Against a
 * passive connector with a secret (TCP, 3,000 hellos/s) and with TLS + secret
 * (1,000/s), for 5 s, in a child process (bench/flood.ts `--passive`):
 *
 * - **during**: the real counterpart (an active Connector) starts 2.5 s into
 *   the flood; its time runs until `connect()` resolved (and the echo of one
 *   byte, reported apart);
 * - **after**: the flood alone; then the time until the listener is idle
 *   again (the first 200 ms in which it used under 10 % of a core), its CPU
 *   per hello (flood start to idle, divided by the hellos sent), and the real
 *   counterpart's time once it is idle.
 *
 * The flooder paces itself by the clock from 256 threads over TCP (most of
 * them wait in `connect()` whenever Linux drops a SYN on a full accept queue),
 * 48 over TLS (its handshakes are CPU-bound: more threads on the same two
 * cores starve the listener). One JSON line per run on stdout.
 *
 * RSS (`/proc/PID/status`) is sampled every 50 ms; the peak is reported.
 * `--module PATH` runs the passive side on another copy of the library (e.g.
 * `git archive` of an earlier commit), interleaved with this one, for ratios.
 * Needs Linux, `cc`, and OpenSSL's headers (libssl-dev).
 *
 * ```sh
 * deno run --import-map=offline/import_map.json -A bench/hello_flood.ts [--runs 5] [--module /tmp/base/mod.ts]
 * ```
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { Connector } from "../mod.ts";
import { childImportMap } from "./_child.ts";

const SECRET = "flood bench shared secret, 32 b.";
const fixtures = new URL("../tests/fixtures/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, fixtures));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

type Kind = "tls+secret" | "secret";
const FLOODS = [
  { kind: "secret", rate: 3000, threads: 256 },
  { kind: "tls+secret", rate: 1000, threads: 48 },
] as const;
const SECONDS = 5;
const REAL_AT = 2500;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Compiles the flooder; returns its path. */
async function buildFlooder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "hello_flood_" });
  const binary = `${dir}/hello_flood`;
  const source = new URL("hello_flood.c", import.meta.url).pathname;
  const { success, stderr } = await new Deno.Command("cc", {
    args: ["-O2", "-o", binary, source, "-lssl", "-lcrypto", "-lpthread"],
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`cc failed:\n${new TextDecoder().decode(stderr)}`);
  }
  return binary;
}

/** A loopback source address not used before in this process. */
let sourceCount = 0;
function freshSource(): string {
  const base = 3 + (Deno.pid % 200) * 50 + sourceCount++;
  return `127.${(base >> 8) & 0xff}.${base & 0xff}.${
    1 + Math.floor(Math.random() * 250)
  }`;
}

interface Probe {
  cpuTicks: number;
  rssMiB: number;
}

function probe(pid: number): Probe {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return { cpuTicks, rssMiB: rssKiB / 1024 };
}

async function realPeer(kind: Kind, port: number) {
  const started = performance.now();
  try {
    using conn = await new Connector({
      host: kind === "tls+secret" ? "localhost" : "127.0.0.1",
      port,
      secret: SECRET,
      tls: kind === "tls+secret" ? { caCerts: [read("ca.pem")] } : undefined,
      timeout: 15_000,
    }).connect();
    const connected = performance.now() - started;
    await conn.write(new Uint8Array([7]));
    const byte = new Uint8Array(1);
    if (await conn.read(byte) !== 1 || byte[0] !== 7) {
      throw new Error("the passive side did not echo the byte");
    }
    return { connected, echoed: performance.now() - started };
  } catch (error) {
    return { failed: (error as Error).message };
  }
}

/** The lines of a byte stream. */
async function* linesOf(stream: ReadableStream<Uint8Array>) {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    let end;
    while ((end = text.indexOf("\n")) >= 0) {
      yield text.slice(0, end);
      text = text.slice(end + 1);
    }
  }
  if (text !== "") yield text;
}

async function run(
  flooder: string,
  flood: typeof FLOODS[number],
  phase: "during" | "after",
  module: string | undefined,
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-prompt",
      ...childImportMap(),
      new URL("flood.ts", import.meta.url).pathname,
      "--passive",
      flood.kind,
      ...(module === undefined ? [] : ["--module", module]),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = linesOf(child.stdout);
  const { port } = JSON.parse((await lines.next()).value!);
  await sleep(300);
  const samples: { at: number; probe: Probe }[] = [];
  const sampler = setInterval(() => {
    try {
      samples.push({ at: performance.now(), probe: probe(child.pid) });
    } catch { /* gone */ }
  }, 50);
  const before = probe(child.pid);
  const floodStart = performance.now();
  const flooding = new Deno.Command(flooder, {
    args: [
      freshSource(),
      "127.0.0.1",
      String(port),
      String(flood.rate),
      String(SECONDS),
      flood.kind === "secret" ? "tcp" : "tls",
      String(flood.threads),
    ],
    stdout: "piped",
  }).output();
  let real;
  if (phase === "during") {
    await sleep(REAL_AT);
    real = await realPeer(flood.kind, port);
  }
  const floodOutput = await flooding;
  const floodEnd = performance.now();
  const sent = JSON.parse(new TextDecoder().decode(floodOutput.stdout));
  let idleAfter: number | undefined;
  let idleTicks = 0;
  if (phase === "after") {
    // Idle: 200 ms (4 samples) using under 10 % of a core (2 ticks).
    const deadline = floodEnd + 30_000;
    while (performance.now() < deadline && idleAfter === undefined) {
      await sleep(50);
      const recent = samples.filter((s) => s.at >= floodEnd);
      for (let index = 0; index + 4 < recent.length; index++) {
        const used = recent[index + 4].probe.cpuTicks -
          recent[index].probe.cpuTicks;
        if (used <= 2) {
          idleAfter = recent[index].at - floodEnd;
          idleTicks = recent[index].probe.cpuTicks;
          break;
        }
      }
    }
    real = await realPeer(flood.kind, port);
  }
  clearInterval(sampler);
  const peakRss = Math.max(
    before.rssMiB,
    ...samples.map((s) => s.probe.rssMiB),
  );
  const report = (await lines.next()).value;
  await child.stdin.close();
  await child.status;
  await lines.return?.();
  const cpuMsPerHello = idleAfter === undefined
    ? undefined
    : (idleTicks - before.cpuTicks) * (1000 / TICKS_PER_SECOND) /
      Math.max(1, sent.sent);
  return {
    ...flood,
    phase,
    base: module !== undefined,
    sent: sent.sent,
    floodSeconds: (floodEnd - floodStart) / 1000,
    real,
    rssBefore: before.rssMiB,
    peakRss,
    idleAfter,
    cpuMsPerHello,
    passive: report === undefined ? undefined : JSON.parse(report),
  };
}

const args = parseArgs(Deno.args, {
  string: ["runs", "module", "only"],
  default: { runs: "5" },
});
const flooder = await buildFlooder();
const runs = Number(args.runs);
const modules = args.module === undefined
  ? [undefined]
  : [undefined, args.module];
try {
  for (const flood of FLOODS) {
    if (args.only !== undefined && args.only !== flood.kind) continue;
    for (let index = 0; index < runs; index++) {
      for (const phase of ["during", "after"] as const) {
        for (const module of modules) {
          const result = await run(flooder, flood, phase, module);
          console.log(JSON.stringify(result));
        }
      }
    }
  }
} finally {
  await Deno.remove(flooder.slice(0, flooder.lastIndexOf("/")), {
    recursive: true,
  });
}
