/**
 * Flood benchmark of a passive connector: while an attacker floods its port,
 * how long does the real counterpart take to get through, and what does the
 * passive process hold (descriptors, RSS)?
 *
 * Scenarios, each against a passive connector with TLS + secret and with a
 * secret alone, in a child process run with `-A` (so that it can count its
 * descriptors):
 * - **silent**: connections at 1,000/s for 5 s, each held 3 s, saying nothing;
 * - **garbage**: 1,000 connections/s for 5 s, each sending a garbage TLS
 *   ClientHello (a handshake record of random bytes) and held until the
 *   passive side closes it (at most 3 s).
 *
 * The real counterpart (an active Connector) starts 2 s into the flood
 * (`--real-at`), when about 2,000 silent connections are open; its time runs until a byte it
 * sent came back through the passive side. Descriptors (`/proc/PID/fd`) and
 * RSS (`/proc/PID/status`) of the passive process are read before the flood,
 * every 100 ms during it (the peak is reported) and 1 s after the attacker
 * closed everything. Linux only.
 *
 * ```sh
 * deno run --import-map=offline/import_map.json -A bench/flood.ts [--rate 1000] [--seconds 5] [--hold 3000] [--real-at 2000]
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

type Kind = "tls+secret" | "secret";
type Attack = "silent" | "garbage";

interface Sample {
  fds: number;
  rssMiB: number;
}

interface Result {
  kind: Kind;
  attack: Attack | "none";
  attempted: number;
  connected: number;
  refused: number;
  floodSeconds: number;
  realPeerMs: number | string;
  before: Sample;
  peak: Sample;
  after: Sample;
  rejected: number | string;
}

// ------------------------------------------------------ the passive child --

async function runPassive(kind: Kind, module?: string): Promise<void> {
  // `--module`: another copy of the library (e.g. an earlier commit), to compare.
  const { Connector } = module === undefined
    ? await import("../mod.ts")
    : await import(new URL(module, `file://${Deno.cwd()}/`).href);
  const reasons: Record<string, number> = {};
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    secret: SECRET,
    tls: kind === "tls+secret"
      ? { cert: read("localhost.pem"), key: read("localhost.key.pem") }
      : undefined,
    timeout: 60_000,
    onRejectedPeer: ({ reason }: { reason: string }) => {
      const key = reason.replace(/[\d.:[\]a-f]+:\d+/g, "ADDR").slice(0, 60);
      reasons[key] = (reasons[key] ?? 0) + 1;
    },
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  console.log(JSON.stringify({ port }));
  using conn: Deno.Conn = await passive.connect();
  const byte = new Uint8Array(1);
  await conn.read(byte);
  await conn.write(byte);
  console.log(JSON.stringify({ rejected: passive.rejectedPeers, reasons }));
  // Stay alive, holding nothing but the counterpart, until told to stop.
  await Deno.stdin.readable.pipeTo(new WritableStream());
}

// ------------------------------------------------------------ measuring --

function sample(pid: number): Sample {
  let fds = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) fds++;
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return { fds, rssMiB: Math.round(rssKiB / 102.4) / 10 };
}

function garbageHello(): Uint8Array {
  const body = crypto.getRandomValues(new Uint8Array(240));
  body[0] = 0x01; // handshake type: ClientHello
  return new Uint8Array([0x16, 0x03, 0x01, 0x00, body.length, ...body]);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** One attacking connection: open, act, hold, close. */
async function attackOnce(
  port: number,
  attack: Attack,
  hold: number,
  counts: { connected: number; refused: number; failed: number },
  open: Set<Deno.Conn>,
): Promise<void> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) counts.refused++;
    else counts.failed++;
    return;
  }
  counts.connected++;
  open.add(conn);
  try {
    if (attack === "garbage") {
      await conn.write(garbageHello());
      // Held until the passive side closes it, or `hold` ms.
      const drain = (async () => {
        const buffer = new Uint8Array(4096);
        while (await conn.read(buffer) !== null) { /* discard */ }
      })();
      await Promise.race([drain.catch(() => {}), sleep(hold)]);
    } else {
      await sleep(hold);
    }
  } catch {
    // Reset by the passive side: fine, it is gone.
  } finally {
    open.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

async function realPeer(kind: Kind, port: number): Promise<number> {
  const started = performance.now();
  using conn = await new Connector({
    host: kind === "tls+secret" ? "localhost" : "127.0.0.1",
    port,
    secret: SECRET,
    tls: kind === "tls+secret" ? { caCerts: [read("ca.pem")] } : undefined,
    timeout: 15_000,
  }).connect();
  await conn.write(new Uint8Array([7]));
  const byte = new Uint8Array(1);
  if (await conn.read(byte) !== 1 || byte[0] !== 7) {
    throw new Error("the passive side did not echo the byte");
  }
  return performance.now() - started;
}

async function scenario(
  kind: Kind,
  attack: Attack | "none",
  options: { rate: number; seconds: number; hold: number; realAt: number },
): Promise<Result> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-prompt",
      ...childImportMap(),
      new URL(import.meta.url).pathname,
      "--passive",
      kind,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  const { port } = JSON.parse((await lines.next()).value!);
  await sleep(300);
  const before = sample(child.pid);
  const peak: Sample = { ...before };
  const sampler = setInterval(() => {
    try {
      const now = sample(child.pid);
      peak.fds = Math.max(peak.fds, now.fds);
      peak.rssMiB = Math.max(peak.rssMiB, now.rssMiB);
    } catch { /* the child is gone */ }
  }, 100);
  const counts = { connected: 0, refused: 0, failed: 0 };
  const open = new Set<Deno.Conn>();
  const attackers: Promise<void>[] = [];
  let attempted = 0;
  const floodStart = performance.now();
  let real: Promise<number | string> | undefined;
  if (attack === "none") {
    real = realPeer(kind, port).catch((error) => `failed: ${error.message}`);
  } else {
    // Paced by the clock: every 10 ms, the connections now due.
    const total = options.rate * options.seconds;
    while (attempted < total) {
      const elapsed = performance.now() - floodStart;
      if (real === undefined && elapsed >= options.realAt) {
        real = realPeer(kind, port).catch((error) =>
          `failed: ${error.message}`
        );
      }
      const due = Math.min(total, Math.floor(elapsed * options.rate / 1000));
      for (; attempted < due; attempted++) {
        attackers.push(attackOnce(port, attack, options.hold, counts, open));
      }
      await sleep(10);
    }
  }
  const floodSeconds = (performance.now() - floodStart) / 1000;
  const realPeerMs = await real!;
  await Promise.all(attackers);
  clearInterval(sampler);
  await sleep(1000);
  const after = sample(child.pid);
  const report = (await lines.next()).value;
  const rejected = report === undefined ? "?" : JSON.parse(report).rejected;
  await child.stdin.close();
  await child.status;
  await lines.return?.();
  return {
    kind,
    attack,
    attempted,
    connected: counts.connected,
    refused: counts.refused,
    floodSeconds,
    realPeerMs: typeof realPeerMs === "number"
      ? Math.round(realPeerMs * 10) / 10
      : realPeerMs,
    before,
    peak,
    after,
    rejected,
  };
}

// ----------------------------------------------------------------- main --

const args = parseArgs(Deno.args, {
  string: ["passive", "module", "rate", "seconds", "hold", "real-at"],
  default: { rate: "1000", seconds: "5", hold: "3000", "real-at": "2000" },
});
if (args.passive !== undefined) {
  await runPassive(args.passive as Kind, args.module);
} else {
  const options = {
    rate: Number(args.rate),
    seconds: Number(args.seconds),
    hold: Number(args.hold),
    realAt: Number(args["real-at"]),
  };
  console.log(
    `## Flood: ${options.rate}/s for ${options.seconds} s, silent connections held ${options.hold} ms; the real peer starts ${options.realAt} ms in\n`,
  );
  console.log(
    "| passive | attack | attacker connects | attempted/s | time to real peer | fds before / peak / after | RSS MiB before / peak / after | peers turned away |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const kind of ["tls+secret", "secret"] as const) {
    for (const attack of ["none", "silent", "garbage"] as const) {
      const result = await scenario(kind, attack, options);
      const rate = attack === "none"
        ? "–"
        : Math.round(result.attempted / result.floodSeconds);
      const ms = typeof result.realPeerMs === "number"
        ? `${result.realPeerMs} ms`
        : result.realPeerMs;
      console.log(
        `| ${kind} | ${attack} | ${result.connected} ok, ${result.refused} refused | ${rate} | ${ms} | ${result.before.fds} / ${result.peak.fds} / ${result.after.fds} | ${result.before.rssMiB} / ${result.peak.rssMiB} / ${result.after.rssMiB} | ${result.rejected} |`,
      );
    }
  }
}
