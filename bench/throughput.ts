/**
 * Throughput and start-up of the `connect` CLI side by side with a raw-Deno
 * relay, socat, ncat, OpenBSD nc and iperf3, over loopback, in one run on one
 * machine. Prints a Markdown report on stdout (progress goes to stderr).
 *
 * ```sh
 * deno run -A --import-map=offline/import_map.json bench/throughput.ts \
 *   [--bytes 1GiB] [--runs 5] [--startup-runs 10] [--out FILE] \
 *   [--only socat,nc] [--skip-startup] [--skip-throughput] [--files]
 * ```
 *
 * Every receiver writes into the same sink: a pipe to `wc -c`; with
 * `--files`, also file to file (the CLI with `--send FILE` / `--recv FILE`,
 * the others with shell redirections, all on the same file system).
 *
 * Peers that are not installed are skipped with a note saying how to install
 * them; the script never fails because one is missing. Needs Linux, bash and
 * GNU coreutils (see `transfer.ts`).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import {
  canSeeListeners,
  type Endpoints,
  iperf3Transfer,
  pipeOnly,
  sourceCommand,
  transfer,
  type TransferResult,
} from "./transfer.ts";
import { median } from "./stats.ts";

const REPOSITORY = new URL("..", import.meta.url).pathname;
const FIXTURES = "tests/fixtures";
const DENO = Deno.execPath();
const IMPORT_MAP = "--import-map=offline/import_map.json";
const MB = 1e6;

/** A tool the benchmark can run. */
interface Tool {
  /** Row label. */
  name: string;
  /** "tcp" or "tls". */
  transport: "tcp" | "tls";
  /** ours: the CLI; raw: the raw-Deno relay; peer: another tool; ceiling: iperf3. */
  kind: "ours" | "raw" | "peer" | "ceiling";
  /** Executables it needs. */
  needs: string[];
  /** How to start it; absent for iperf3, which is run by iperf3Transfer. */
  endpoints?: Endpoints;
}

const cliEndpoints = (
  tls: boolean,
  confirm = false,
  secret = false,
): Endpoints => ({
  fileFlags: true,
  listen: (port, file) => [
    DENO,
    "run",
    "--no-prompt",
    IMPORT_MAP,
    `--allow-net=127.0.0.1:${port}`,
    "--allow-env=TRANSFER_SECRET",
    ...(tls ? [`--allow-read=${FIXTURES}`] : []),
    ...(file === undefined ? [] : [`--allow-write=${file}`]),
    "cli.ts",
    "listen",
    String(port),
    "--host",
    "127.0.0.1",
    "--recv-only",
    "--quiet",
    ...(file === undefined ? [] : ["--recv", file]),
    // A secret: the encrypted stream, confirmed by count inside its records.
    ...(secret ? ["--secret-env", "TRANSFER_SECRET"] : []),
    // --confirm: the count and SHA-256 of the bytes, confirmed by the
    // receiver after an fsync of a --recv file.
    ...(confirm ? ["--confirm"] : []),
    ...(tls
      ? [
        "--tls",
        "--cert",
        `${FIXTURES}/localhost.pem`,
        "--key",
        `${FIXTURES}/localhost.key.pem`,
      ]
      : []),
  ],
  connect: (port, file) => [
    DENO,
    "run",
    "--no-prompt",
    IMPORT_MAP,
    `--allow-net=127.0.0.1:${port}`,
    "--allow-env=TRANSFER_SECRET",
    ...(tls || file !== undefined
      ? [`--allow-read=${[tls ? FIXTURES : [], file ?? []].flat().join(",")}`]
      : []),
    "cli.ts",
    "connect",
    "127.0.0.1",
    String(port),
    "--send-only",
    "--quiet",
    ...(file === undefined ? [] : ["--send", file]),
    ...(secret ? ["--secret-env", "TRANSFER_SECRET"] : []),
    ...(confirm ? ["--confirm"] : []),
    ...(tls ? ["--tls", "--ca", `${FIXTURES}/ca.pem`] : []),
  ],
});

const rawEndpoints = (
  tls: boolean,
  syncStdio = false,
  secret = false,
): Endpoints => {
  const flags = [
    "run",
    "--no-prompt",
    IMPORT_MAP,
    "--allow-net=127.0.0.1",
    ...(tls ? [`--allow-read=${FIXTURES}`] : []),
    "bench/raw_pair.ts",
  ];
  const options = [
    ...(tls ? ["--tls", FIXTURES] : []),
    ...(syncStdio ? ["--sync-stdio"] : []),
    ...(secret ? ["--secret"] : []),
  ];
  return {
    listen: (port) => [DENO, ...flags, "listen", String(port), ...options],
    connect: (port) => [DENO, ...flags, "connect", String(port), ...options],
  };
};

const socatEndpoints = (tls: boolean, buffer?: number): Endpoints => {
  const size = buffer === undefined ? [] : ["-b", String(buffer)];
  return {
    listen: (port) => [
      "socat",
      ...size,
      "-u",
      tls
        ? `OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,cert=${FIXTURES}/localhost.pem,key=${FIXTURES}/localhost.key.pem,verify=0`
        : `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`,
      "STDOUT",
    ],
    connect: (port) => [
      "socat",
      ...size,
      "-u",
      "STDIN",
      tls
        ? `OPENSSL:127.0.0.1:${port},cafile=${FIXTURES}/ca.pem,verify=1`
        : `TCP:127.0.0.1:${port}`,
    ],
  };
};

const ncatEndpoints = (tls: boolean): Endpoints => ({
  listen: (port) => [
    "ncat",
    "-l",
    "127.0.0.1",
    String(port),
    "--recv-only",
    ...(tls
      ? [
        "--ssl",
        "--ssl-cert",
        `${FIXTURES}/localhost.pem`,
        "--ssl-key",
        `${FIXTURES}/localhost.key.pem`,
      ]
      : []),
  ],
  // ncat checks DNS names only, not IP addresses: dial "localhost" over IPv4.
  connect: (port) =>
    tls
      ? [
        "ncat",
        "-4",
        "--send-only",
        "--ssl",
        "--ssl-verify",
        "--ssl-trustfile",
        `${FIXTURES}/ca.pem`,
        "localhost",
        String(port),
      ]
      : ["ncat", "--send-only", "127.0.0.1", String(port)],
});

const ncEndpoints: Endpoints = {
  listen: (port) => ["nc", "-d", "-l", "127.0.0.1", String(port)],
  connect: (port) => ["nc", "-N", "127.0.0.1", String(port)],
};

const TOOLS: Tool[] = [
  {
    name: "connect CLI",
    transport: "tcp",
    kind: "ours",
    needs: [],
    endpoints: cliEndpoints(false),
  },
  {
    name: "connect CLI --confirm",
    transport: "tcp",
    kind: "ours",
    needs: [],
    endpoints: cliEndpoints(false, true),
  },
  {
    name: "raw Deno read/write loop (256 KiB)",
    transport: "tcp",
    kind: "raw",
    needs: [],
    endpoints: rawEndpoints(false),
  },
  {
    name: "raw Deno, sync stdio (readSync/writeSync)",
    transport: "tcp",
    kind: "raw",
    needs: [],
    endpoints: rawEndpoints(false, true),
  },
  {
    name: "socat -b 131072",
    transport: "tcp",
    kind: "peer",
    needs: ["socat"],
    endpoints: socatEndpoints(false, 131072),
  },
  {
    name: "socat (default 8 KiB buffer)",
    transport: "tcp",
    kind: "peer",
    needs: ["socat"],
    endpoints: socatEndpoints(false),
  },
  {
    name: "ncat",
    transport: "tcp",
    kind: "peer",
    needs: ["ncat"],
    endpoints: ncatEndpoints(false),
  },
  {
    name: "nc (OpenBSD) -N / -d -l",
    transport: "tcp",
    kind: "peer",
    needs: ["nc"],
    endpoints: ncEndpoints,
  },
  {
    name: "iperf3 (ceiling)",
    transport: "tcp",
    kind: "ceiling",
    needs: ["iperf3"],
  },
  {
    name: "connect CLI --tls",
    transport: "tls",
    kind: "ours",
    needs: [],
    endpoints: cliEndpoints(true),
  },
  {
    name: "connect CLI --tls --confirm",
    transport: "tls",
    kind: "ours",
    needs: [],
    endpoints: cliEndpoints(true, true),
  },
  {
    // Encrypted by the code's key (AES-256-GCM records), confirmed by count.
    name: "connect CLI with a secret (encrypted, confirmed)",
    transport: "tls",
    kind: "ours",
    needs: [],
    endpoints: cliEndpoints(false, false, true),
  },
  {
    // The same records without the CLI or its confirmation.
    name: "raw Deno encrypted records, sync stdio (unconfirmed)",
    transport: "tls",
    kind: "raw",
    needs: [],
    endpoints: rawEndpoints(false, true, true),
  },
  {
    name: "raw Deno TLS (startTls, 256 KiB)",
    transport: "tls",
    kind: "raw",
    needs: [],
    endpoints: rawEndpoints(true),
  },
  {
    name: "raw Deno TLS, sync stdio",
    transport: "tls",
    kind: "raw",
    needs: [],
    endpoints: rawEndpoints(true, true),
  },
  {
    name: "socat -b 131072 OPENSSL",
    transport: "tls",
    kind: "peer",
    needs: ["socat"],
    endpoints: socatEndpoints(true, 131072),
  },
  {
    name: "socat OPENSSL (default buffer)",
    transport: "tls",
    kind: "peer",
    needs: ["socat"],
    endpoints: socatEndpoints(true),
  },
  {
    name: "ncat --ssl",
    transport: "tls",
    kind: "peer",
    needs: ["ncat"],
    endpoints: ncatEndpoints(true),
  },
];

const INSTALL: Record<string, string> = {
  socat: "apt-get install -y socat",
  ncat: "apt-get install -y ncat",
  nc: "apt-get install -y netcat-openbsd",
  iperf3: "apt-get install -y iperf3",
};

/** Runs a command and returns its stdout and stderr, or undefined if it cannot start. */
async function probe(
  command: string,
  args: string[],
): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return decoder.decode(output.stdout) + decoder.decode(output.stderr);
  } catch {
    return undefined;
  }
}

/** For each executable: its version line, or why it cannot be used. */
async function findExecutables(): Promise<
  Map<string, { version?: string; missing?: string }>
> {
  const found = new Map<string, { version?: string; missing?: string }>();
  const firstLine = (text: string | undefined, pattern: RegExp) =>
    text?.split("\n").find((line) => pattern.test(line))?.trim();
  const socat = await probe("socat", ["-V"]);
  found.set(
    "socat",
    socat === undefined ? { missing: "not installed" } : {
      version: firstLine(socat, /socat version/) ?? "socat",
    },
  );
  const ncat = await probe("ncat", ["--version"]);
  found.set(
    "ncat",
    ncat === undefined ? { missing: "not installed" } : {
      version: firstLine(ncat, /Ncat: Version/) ?? "ncat",
    },
  );
  const nc = await probe("nc", ["-h"]);
  found.set(
    "nc",
    nc === undefined
      ? { missing: "not installed" }
      : /OpenBSD/.test(nc)
      ? { version: firstLine(nc, /OpenBSD/) }
      : { missing: "the nc found is not OpenBSD netcat" },
  );
  const iperf3 = await probe("iperf3", ["--version"]);
  found.set(
    "iperf3",
    iperf3 === undefined ? { missing: "not installed" } : {
      version: firstLine(iperf3, /iperf/) ?? "iperf3",
    },
  );
  return found;
}

/** Parses "1GiB", "512M", "1e9", "4096" into bytes. */
export function parseBytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*([KMG]i?)?B?$/i.exec(text.trim());
  if (match === null) {
    throw new RangeError(
      `Invalid --bytes "${text}": expected a number with an optional K/M/G/KiB/MiB/GiB suffix`,
    );
  }
  const unit = (match[2] ?? "").toUpperCase();
  const scale = unit === "" ? 1 : (unit.endsWith("I") ? 1024 : 1000) **
    ("KMG".indexOf(unit[0]) + 1);
  const bytes = Math.round(Number(match[1]) * scale);
  if (bytes < 1) throw new RangeError(`Invalid --bytes "${text}": at least 1`);
  return bytes;
}

function formatBytes(bytes: number): string {
  for (const [unit, size] of [["GiB", 2 ** 30], ["MiB", 2 ** 20]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

const fixed = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toFixed(digits) : "—";

/** What went wrong in a run, or undefined when it delivered every byte. */
function failure(result: TransferResult): string | undefined {
  if (result.timedOut) {
    return `timed out (receiver exit ${result.receiverExit}, sender exit ${result.senderExit})`;
  }
  if (result.received !== result.bytes) {
    return `delivered ${result.received} of ${result.bytes} bytes (receiver exit ${result.receiverExit}, sender exit ${result.senderExit})`;
  }
  if (result.receiverExit !== 0 || result.senderExit !== 0) {
    return `all bytes arrived but receiver exit ${result.receiverExit}, sender exit ${result.senderExit}`;
  }
  return undefined;
}

interface Row {
  tool: Tool;
  results: TransferResult[];
}

function rateStats(row: Row): { median: number; min: number; max: number } {
  const rates = row.results.filter((result) => failure(result) === undefined)
    .map((result) => result.bytes / result.seconds / MB);
  if (rates.length === 0) return { median: NaN, min: NaN, max: NaN };
  return {
    median: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
  };
}

function failureNotes(row: Row): string {
  const failures = row.results.map(failure).filter((text) =>
    text !== undefined
  );
  if (failures.length === 0) return "";
  const counts = new Map<string, number>();
  for (const text of failures) counts.set(text!, (counts.get(text!) ?? 0) + 1);
  return [...counts].map(([text, count]) => `${count}× ${text}`).join("; ");
}

function log(text: string): void {
  console.error(text);
}

/** The 1, 5 and 15 minute load averages, or "" where /proc is missing. */
async function loadAverage(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return text.split(" ").slice(0, 3).join(" ");
}

async function machineFacts(
  executables: Map<string, { version?: string; missing?: string }>,
): Promise<string[]> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const cpu = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? "unknown CPU";
  const kernel = (await probe("uname", ["-sr"]))?.trim() ?? Deno.build.os;
  const nproc = (await probe("nproc", []))?.trim() ??
    String(navigator.hardwareConcurrency);
  const load = await loadAverage();
  const tools = [...executables].map(([name, found]) =>
    found.version ?? `${name}: ${found.missing}`
  );
  return [
    `- date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    `- machine: ${nproc} CPUs (nproc), ${cpu}, ${kernel}${
      load ? `, load average at start ${load}` : ""
    }`,
    `- Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
    `- peers: ${tools.join("; ")}`,
  ];
}

async function main(): Promise<void> {
  // The secret of the "with a secret" rows (`--secret-env TRANSFER_SECRET`).
  Deno.env.set("TRANSFER_SECRET", "00-bench-bench-bench-bench");
  // `deno task bench -- --bytes 2GiB` passes the "--" through: drop it.
  const argv = Deno.args.filter((arg) => arg !== "--");
  const args = parseArgs(argv, {
    string: ["bytes", "runs", "startup-runs", "out", "only", "timeout"],
    boolean: ["skip-startup", "skip-throughput", "files", "help"],
    default: { bytes: "1GiB", runs: "5", "startup-runs": "10" },
  });
  if (args.help) {
    console.log(
      "usage: throughput.ts [--bytes 1GiB] [--runs 5] [--startup-runs 10] [--out FILE] [--only NAME,...] [--timeout SECONDS] [--skip-startup] [--skip-throughput] [--files]",
    );
    return;
  }
  const flag = (name: string): string | undefined => {
    const value = (args as Record<string, unknown>)[name];
    return typeof value === "string" ? value : undefined;
  };
  const count = (name: string): number => {
    const value = Number(flag(name));
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`Invalid --${name} "${flag(name)}": an integer ≥ 1`);
    }
    return value;
  };
  const bytes = parseBytes(flag("bytes") ?? "1GiB");
  const runs = count("runs");
  const startupRuns = count("startup-runs");
  // Generous: 20 MB/s at worst, never under 30 s.
  const timeout = flag("timeout") === undefined
    ? Math.max(30, bytes / 20e6)
    : Number(flag("timeout"));
  const only = flag("only")?.split(",").map((name) =>
    name.trim().toLowerCase()
  );
  const exact = new Set(TOOLS.map((tool) => tool.name.toLowerCase()));
  const selected = (tool: Tool) =>
    only === undefined ||
    only.some((name) =>
      // A name given whole selects that tool alone ("connect cli" is not
      // also "connect cli --tls"); any other part of a name selects every
      // tool whose name holds it.
      exact.has(name)
        ? tool.name.toLowerCase() === name
        : tool.name.toLowerCase().includes(name)
    );

  if (!await canSeeListeners()) {
    log("note: /proc/net/tcp is unreadable; this benchmark needs Linux");
  }
  const executables = await findExecutables();
  const notes: string[] = [];
  const available = (tool: Tool) =>
    tool.needs.every((name) => executables.get(name)?.version !== undefined);
  for (const [name, found] of executables) {
    if (found.missing !== undefined) {
      notes.push(
        `${name} skipped (${found.missing}): install it with \`${
          INSTALL[name]
        }\``,
      );
    }
  }
  for (const note of notes) log(`note: ${note}`);

  const report: string[] = [];
  const command = `deno task bench${argv.length ? ` ${argv.join(" ")}` : ""}`;
  report.push("## Throughput and start-up", "");
  report.push(...await machineFacts(executables));
  report.push(`- command: \`${command}\``, "");

  if (!args["skip-throughput"]) {
    const rows: Row[] = TOOLS.filter((tool) =>
      selected(tool) && available(tool)
    )
      .map((tool) => ({ tool, results: [] }));
    const pipe: TransferResult[] = [];
    log(
      `throughput: ${
        formatBytes(bytes)
      }, ${runs} runs of ${rows.length} tools, interleaved`,
    );
    // One unmeasured warm-up each (Deno caches its module graph on first run).
    for (const row of rows) {
      if (row.tool.endpoints) {
        await transfer(row.tool.endpoints, 1, 30, REPOSITORY);
      }
    }
    for (let run = 1; run <= runs; run++) {
      const result = await pipeOnly(bytes, timeout);
      pipe.push(result);
      log(
        `run ${run}/${runs} pipe only: ${
          fixed(bytes / result.seconds / MB)
        } MB/s`,
      );
      for (const row of rows) {
        const result = row.tool.endpoints === undefined
          ? await iperf3Transfer(bytes, timeout)
          : await transfer(row.tool.endpoints, bytes, timeout, REPOSITORY);
        row.results.push(result);
        const problem = failure(result);
        log(
          `run ${run}/${runs} ${row.tool.name}: ${
            fixed(bytes / result.seconds / MB)
          } MB/s${
            problem
              ? ` — ${problem}${result.stderr ? `: ${result.stderr}` : ""}`
              : ""
          }`,
        );
      }
    }
    report.push(...throughputTable(rows, pipe, bytes, runs));
  }

  if (args.files) {
    report.push(
      ...await fileToFile(
        TOOLS.filter((tool) =>
          tool.endpoints !== undefined && selected(tool) && available(tool)
        ),
        bytes,
        runs,
        timeout,
      ),
    );
  }

  if (!args["skip-startup"]) {
    const rows: Row[] = TOOLS.filter((tool) =>
      tool.transport === "tcp" && tool.endpoints !== undefined &&
      selected(tool) && available(tool)
    ).map((tool) => ({ tool, results: [] }));
    log(`start-up: 1 byte, ${startupRuns} runs of ${rows.length} tools`);
    for (const row of rows) {
      await transfer(row.tool.endpoints!, 1, 30, REPOSITORY);
    }
    for (let run = 1; run <= startupRuns; run++) {
      for (const row of rows) {
        row.results.push(
          await transfer(row.tool.endpoints!, 1, 30, REPOSITORY),
        );
      }
    }
    report.push(...startupTable(rows, startupRuns));
  }
  const load = await loadAverage();
  if (load) {
    report.push(
      `Load average at the end: ${load} (2 CPUs: figures drift when other work runs; compare only within one run).`,
    );
  }
  if (notes.length > 0) {
    report.push("", "Skipped:", "", ...notes.map((note) => `- ${note}`));
  }
  const markdown = report.join("\n") + "\n";
  console.log(markdown);
  const out = flag("out");
  if (out !== undefined) await Deno.writeTextFile(out, markdown);
}

/** File to file: one source file, every receiver writing the same sink file. */
async function fileToFile(
  tools: Tool[],
  bytes: number,
  runs: number,
  timeout: number,
): Promise<string[]> {
  const directory = await Deno.makeTempDir({ prefix: "connect_bench_files_" });
  const files = { source: `${directory}/source`, sink: `${directory}/sink` };
  try {
    const made = await new Deno.Command("bash", {
      args: ["-c", `${sourceCommand(bytes)} > ${files.source}`],
    }).output();
    if (!made.success) throw new Error(`cannot write ${files.source}`);
    const rows: Row[] = tools.map((tool) => ({ tool, results: [] }));
    log(
      `file to file: ${
        formatBytes(bytes)
      }, ${runs} runs of ${rows.length} tools`,
    );
    for (let run = 0; run <= runs; run++) { // run 0: unmeasured warm-up
      for (const row of rows) {
        const result = await transfer(
          row.tool.endpoints!,
          bytes,
          timeout,
          REPOSITORY,
          files,
        );
        await Deno.remove(files.sink).catch(() => {});
        if (run > 0) row.results.push(result);
        log(
          `file run ${run}/${runs} ${row.tool.name}: ${
            fixed(bytes / result.seconds / MB)
          } MB/s${failure(result) ? ` — ${failure(result)}` : ""}`,
        );
      }
    }
    const lines = [
      `### File to file: ${
        formatBytes(bytes)
      } over loopback, ${runs} runs each`,
      "",
      `The sender reads one file, every receiver writes the same sink file on the same file system (${directory}); the connect CLI with \`--send FILE\` / \`--recv FILE\`, the others through shell redirections. Bytes are counted with stat.`,
      "",
      "| transport | tool | median MB/s | min MB/s | max MB/s | × best peer | runs ok |",
      "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const transport of ["tcp", "tls"] as const) {
      const mine = rows.filter((row) => row.tool.transport === transport);
      const peers = mine.filter((row) => row.tool.kind === "peer")
        .map((row) => rateStats(row).median).filter(Number.isFinite);
      const best = peers.length ? Math.max(...peers) : NaN;
      for (const row of mine) {
        const stats = rateStats(row);
        const ok = row.results.filter((result) => !failure(result)).length;
        lines.push(
          `| ${transport.toUpperCase()} | ${
            row.tool.kind === "ours" ? `**${row.tool.name}**` : row.tool.name
          } | ${fixed(stats.median)} | ${fixed(stats.min)} | ${
            fixed(stats.max)
          } | ${fixed(stats.median / best, 2)} | ${ok}/${runs} |`,
        );
      }
    }
    lines.push("");
    return lines;
  } finally {
    await Deno.remove(directory, { recursive: true }).catch(() => {});
  }
}

/** The ratio a target line asks for: the number after "≥" (1 if none). */
function goal(target: string): number {
  return Number(/≥ ([\d.]+)×/.exec(target)?.[1] ?? 1);
}

function throughputTable(
  rows: Row[],
  pipe: TransferResult[],
  bytes: number,
  runs: number,
): string[] {
  const lines = [
    `### Throughput: ${formatBytes(bytes)} over loopback, ${runs} runs each`,
    "",
    "Every receiver writes into the same sink: a pipe to `wc -c` (no tool writes a file while another writes /dev/null).",
    "",
    "MB/s = 10^6 bytes per second, end to end: from spawning the sender (the receiver",
    "already listens) to the receiver's count, process start-up included. Byte counts are",
    "checked at the receiver; a run that delivered fewer bytes or exited non-zero counts",
    'as failed and is left out of the rates. "× best peer": median over the best median',
    "among socat, ncat and nc for the same transport.",
    "",
    "| transport | tool | median MB/s | min MB/s | max MB/s | × best peer | runs ok | failed runs |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  const pipeRates = pipe.filter((result) => failure(result) === undefined).map(
    (result) => result.bytes / result.seconds / MB,
  );
  lines.push(
    `| — | \`dd \\| wc -c\` (pipes only, no network) | ${
      fixed(median(pipeRates))
    } | ${fixed(Math.min(...pipeRates))} | ${
      fixed(Math.max(...pipeRates))
    } | | ${pipeRates.length}/${pipe.length} | |`,
  );
  const bestPeer = new Map<string, { name: string; median: number }>();
  for (const row of rows) {
    if (row.tool.kind !== "peer") continue;
    const { median } = rateStats(row);
    const best = bestPeer.get(row.tool.transport);
    if (Number.isFinite(median) && (!best || median > best.median)) {
      bestPeer.set(row.tool.transport, { name: row.tool.name, median });
    }
  }
  for (const row of rows) {
    const stats = rateStats(row);
    const best = bestPeer.get(row.tool.transport);
    const ok = row.results.filter((result) => failure(result) === undefined)
      .length;
    const label = row.tool.kind === "ours"
      ? `**${row.tool.name}**`
      : row.tool.kind === "ceiling"
      ? `${row.tool.name}: its own data-phase rate, no pipes`
      : row.tool.name;
    lines.push(
      `| ${row.tool.transport.toUpperCase()} | ${label} | ${
        fixed(stats.median)
      } | ${fixed(stats.min)} | ${fixed(stats.max)} | ${
        best ? fixed(stats.median / best.median, 2) : "—"
      } | ${ok}/${row.results.length} | ${failureNotes(row)} |`,
    );
  }
  lines.push("");
  const find = (name: string) => rows.find((row) => row.tool.name === name);
  const ratio = (ours?: Row, ...others: (Row | undefined)[]) => {
    const present = others.filter((row): row is Row => row !== undefined);
    if (ours === undefined || present.length === 0) return undefined;
    const best = present.reduce((a, b) =>
      rateStats(a).median >= rateStats(b).median ? a : b
    );
    return {
      value: rateStats(ours).median / rateStats(best).median,
      against: best.tool.name,
    };
  };
  const targets: [string, ReturnType<typeof ratio>][] = [
    [
      "TCP: CLI ≥ 1.1× the best of socat -b 131072 and nc",
      ratio(
        find("connect CLI"),
        find("socat -b 131072"),
        find("nc (OpenBSD) -N / -d -l"),
      ),
    ],
    [
      "TLS: CLI ≥ 1.2× socat's TLS (OPENSSL)",
      ratio(
        find("connect CLI --tls"),
        find("socat -b 131072 OPENSSL"),
        find("socat OPENSSL (default buffer)"),
      ),
    ],
    [
      "Code: CLI with a secret (confirmation included) ≥ 1.0× socat OPENSSL",
      ratio(
        find("connect CLI with a secret (encrypted, confirmed)"),
        find("socat -b 131072 OPENSSL"),
        find("socat OPENSSL (default buffer)"),
      ),
    ],
    [
      "Code: confirmed CLI ≥ 0.9× the unconfirmed encrypted records",
      ratio(
        find("connect CLI with a secret (encrypted, confirmed)"),
        find("raw Deno encrypted records, sync stdio (unconfirmed)"),
      ),
    ],
    [
      "TCP: CLI vs the raw-Deno relay (for reference)",
      ratio(find("connect CLI"), find("raw Deno read/write loop (256 KiB)")),
    ],
    [
      "TCP: CLI vs the raw-Deno relay with sync stdio (for reference)",
      ratio(
        find("connect CLI"),
        find("raw Deno, sync stdio (readSync/writeSync)"),
      ),
    ],
    [
      "TLS: CLI vs the raw-Deno TLS relay (for reference)",
      ratio(
        find("connect CLI --tls"),
        find("raw Deno TLS (startTls, 256 KiB)"),
      ),
    ],
    [
      "TLS: CLI vs the raw-Deno TLS relay with sync stdio (for reference)",
      ratio(find("connect CLI --tls"), find("raw Deno TLS, sync stdio")),
    ],
  ];
  lines.push(
    "| target | ratio (medians) | against | met |",
    "| --- | ---: | --- | --- |",
  );
  for (const [target, result] of targets) {
    if (result === undefined) {
      lines.push(`| ${target} | — | (not measured) | |`);
      continue;
    }
    const reference = target.includes("reference");
    lines.push(
      `| ${target} | ${fixed(result.value, 2)}× | ${result.against} | ${
        reference ? "" : result.value >= goal(target) ? "yes" : "**no**"
      } |`,
    );
  }
  lines.push("");
  return lines;
}

function startupTable(rows: Row[], runs: number): string[] {
  const lines = [
    `### Start-up: 1 byte end to end, ${runs} runs each`,
    "",
    '"total": from spawning the receiver to its count of the one byte; "listening": until',
    'its port listens; "send": from spawning the sender (the receiver listens) to the count.',
    "",
    "| tool | total median ms | total min ms | listening median ms | send median ms | × best peer | runs ok |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const stats = rows.map((row) => {
    const good = row.results.filter((result) => failure(result) === undefined);
    const totals = good.map((result) =>
      (result.readySeconds + result.seconds) * 1000
    );
    return {
      row,
      ok: good.length,
      total: totals.length ? median(totals) : NaN,
      min: totals.length ? Math.min(...totals) : NaN,
      listening: good.length
        ? median(good.map((result) => result.readySeconds * 1000))
        : NaN,
      send: good.length
        ? median(good.map((result) => result.seconds * 1000))
        : NaN,
    };
  });
  const peers = stats.filter((entry) =>
    entry.row.tool.kind === "peer" && Number.isFinite(entry.total)
  );
  const best = peers.length
    ? Math.min(...peers.map((entry) => entry.total))
    : NaN;
  for (const entry of stats) {
    const name = entry.row.tool.kind === "ours"
      ? `**${entry.row.tool.name}**`
      : entry.row.tool.name;
    lines.push(
      `| ${name} | ${fixed(entry.total, 1)} | ${fixed(entry.min, 1)} | ${
        fixed(entry.listening, 1)
      } | ${fixed(entry.send, 1)} | ${
        fixed(entry.total / best, 1)
      } | ${entry.ok}/${runs} |`,
    );
  }
  lines.push("");
  return lines;
}

if (import.meta.main) {
  await main();
}
