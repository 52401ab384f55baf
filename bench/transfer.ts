/**
 * One measured transfer over loopback between two command-line tools, for the
 * throughput benchmark: a receiver that listens on 127.0.0.1 and writes what
 * it receives to stdout, and a sender that connects and sends its stdin.
 *
 * The receiver runs as `RECEIVER </dev/null | wc -c`, the sender as
 * `dd if=/dev/zero … | SENDER >/dev/null`, each under `timeout(1)`, so a tool
 * that hangs is killed and reported, and the byte count is taken at the
 * receiver. The clock starts when the sender is spawned (the receiver is
 * already listening) and stops when the receiver's `wc -c` has counted
 * everything: it includes the sender's start-up and the connection setup,
 * which is what a user waits for.
 *
 * Needs bash and GNU coreutils (`dd`, `wc`, `timeout`); Linux for the
 * listening check (`/proc/net/tcp`).
 *
 * @module
 */
import { shellQuote } from "../cli/shell.ts";

/** How to run one tool as a receiver and as a sender on a given port. */
export interface Endpoints {
  /**
   * argv of the receiver: listens on 127.0.0.1:`port`, writes to stdout, or
   * to `file` when given and the tool has a flag for it.
   */
  listen(port: number, file?: string): string[];
  /** argv of the sender: connects to 127.0.0.1:`port`, sends stdin (or `file`), exits. */
  connect(port: number, file?: string): string[];
  /** The tool reads and writes files itself (`--send FILE` / `--recv FILE`). */
  fileFlags?: boolean;
}

/** File-to-file mode: the source file the sender reads, the file the receiver writes. */
export interface TransferFiles {
  source: string;
  sink: string;
}

/** What one transfer did. */
export interface TransferResult {
  /** Bytes the source produced. */
  bytes: number;
  /** Bytes counted at the receiver. */
  received: number;
  /** Seconds from spawning the sender to the receiver's final count. */
  seconds: number;
  /** Seconds from spawning the receiver to its port listening. */
  readySeconds: number;
  /** Exit codes of the receiver and the sender tools (124: killed by timeout). */
  receiverExit: number;
  senderExit: number;
  /** Whether the time limit ran out. */
  timedOut: boolean;
  /** The end of both tools' stderr, for diagnostics. */
  stderr: string;
}

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

function commandLine(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

/**
 * Whether something listens on TCP `port` (any local address), per /proc.
 * The kernel lists listening sockets first, so reading stops at the first
 * socket in another state: thousands of TIME_WAIT entries left by other runs
 * would otherwise make every check cost milliseconds.
 */
async function isListening(port: number): Promise<boolean> {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(64 * 1024);
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(table);
    } catch {
      continue;
    }
    try {
      let pending = "";
      let header = true;
      for (;;) {
        const read = await file.read(chunk);
        if (read === null) break;
        const lines = (pending + decoder.decode(chunk.subarray(0, read)))
          .split("\n");
        pending = lines.pop()!;
        let pastListeners = false;
        for (const line of lines) {
          if (header) {
            header = false;
            continue;
          }
          const fields = line.trim().split(/\s+/);
          if (fields[3] !== "0A") {
            pastListeners = true;
            break;
          }
          if (fields[1]?.endsWith(suffix)) return true;
        }
        if (pastListeners) break;
      }
    } finally {
      file.close();
    }
  }
  return false;
}

/** Whether /proc/net/tcp can tell when a port is listening. */
export async function canSeeListeners(): Promise<boolean> {
  try {
    await Deno.readTextFile("/proc/net/tcp");
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Finished {
  stdout: string;
  stderr: string;
  at: number;
}

function run(script: string, cwd: string): {
  child: Deno.ChildProcess;
  done: Promise<Finished>;
} {
  const child = new Deno.Command("bash", {
    args: ["-c", script],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const done = child.output().then((output) => ({
    at: performance.now(),
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  }));
  return { child, done };
}

function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

/** The last line of a script's stdout that is a number, or -1. */
function lastNumber(text: string, fromEnd = 0): number {
  const lines = text.trim().split("\n").map((line) => line.trim());
  const value = Number(lines[lines.length - 1 - fromEnd]);
  return Number.isFinite(value) ? value : -1;
}

/** The source: `bytes` zero bytes from dd in 1 MiB blocks. */
export function sourceCommand(bytes: number): string {
  return `dd if=/dev/zero bs=1M count=${bytes} iflag=count_bytes status=none`;
}

/**
 * Moves `bytes` zero bytes from a sender to a receiver over loopback.
 *
 * @param endpoints How to start the two tools.
 * @param bytes How many bytes to send.
 * @param timeoutSeconds Limit for each tool; the receiver gets 10 s more to
 * start listening.
 * @param cwd Working directory of both tools.
 */
export async function transfer(
  endpoints: Endpoints,
  bytes: number,
  timeoutSeconds: number,
  cwd: string,
  files?: TransferFiles,
): Promise<TransferResult> {
  const port = freePort();
  const limit = Math.ceil(timeoutSeconds);
  const started = performance.now();
  // Every receiver gets the same sink: a pipe to `wc -c`, or (file mode) the
  // same file on the same file system, counted with stat afterwards.
  const receiverScript = files === undefined
    ? `timeout -k 2 ${limit + 10} ${
      commandLine(endpoints.listen(port))
    } </dev/null | wc -c; echo "\${PIPESTATUS[0]}"`
    : endpoints.fileFlags
    ? `timeout -k 2 ${limit + 10} ${
      commandLine(endpoints.listen(port, files.sink))
    } </dev/null >/dev/null; code=$?; stat -c %s ${
      shellQuote(files.sink)
    }; echo "$code"`
    : `timeout -k 2 ${limit + 10} ${
      commandLine(endpoints.listen(port))
    } </dev/null >${shellQuote(files.sink)}; code=$?; stat -c %s ${
      shellQuote(files.sink)
    }; echo "$code"`;
  const receiver = run(receiverScript, cwd);
  let receiverEnded = false;
  receiver.done.then(() => receiverEnded = true, () => receiverEnded = true);
  const readyBy = started + 10_000;
  while (
    !receiverEnded && performance.now() < readyBy && !await isListening(port)
  ) {
    await sleep(1);
  }
  const ready = performance.now();
  const senderScript = files === undefined
    ? `${sourceCommand(bytes)} | timeout -k 2 ${limit} ${
      commandLine(endpoints.connect(port))
    } >/dev/null; echo "\${PIPESTATUS[1]}"`
    : endpoints.fileFlags
    ? `timeout -k 2 ${limit} ${
      commandLine(endpoints.connect(port, files.source))
    } </dev/null >/dev/null; echo "$?"`
    : `timeout -k 2 ${limit} ${commandLine(endpoints.connect(port))} <${
      shellQuote(files.source)
    } >/dev/null; echo "$?"`;
  const sender = run(senderScript, cwd);
  let timedOut = false;
  const backstop = setTimeout(() => {
    timedOut = true;
    killQuietly(sender.child);
    killQuietly(receiver.child);
  }, (limit + 15) * 1000);
  try {
    const [received, sent] = await Promise.all([receiver.done, sender.done]);
    const receiverExit = lastNumber(received.stdout);
    const senderExit = lastNumber(sent.stdout);
    return {
      bytes,
      received: lastNumber(received.stdout, 1),
      seconds: (received.at - ready) / 1000,
      readySeconds: (ready - started) / 1000,
      receiverExit,
      senderExit,
      timedOut: timedOut || receiverExit === 124 || senderExit === 124,
      stderr: (received.stderr + sent.stderr).trim().slice(-500),
    };
  } finally {
    clearTimeout(backstop);
  }
}

/**
 * Times the source piped straight into the sink (`dd … | wc -c`): the ceiling
 * of the pipes every relay tool adds on both sides.
 */
export async function pipeOnly(
  bytes: number,
  timeoutSeconds: number,
): Promise<TransferResult> {
  const started = performance.now();
  const { done } = run(
    `${sourceCommand(bytes)} | timeout -k 2 ${
      Math.ceil(timeoutSeconds)
    } wc -c; echo "\${PIPESTATUS[1]}"`,
    "/",
  );
  const finished = await done;
  const exit = lastNumber(finished.stdout);
  return {
    bytes,
    received: lastNumber(finished.stdout, 1),
    seconds: (finished.at - started) / 1000,
    readySeconds: 0,
    receiverExit: exit,
    senderExit: 0,
    timedOut: exit === 124,
    stderr: finished.stderr.trim(),
  };
}

/**
 * One iperf3 run of `bytes` (single stream, 127.0.0.1): the practical ceiling
 * of loopback TCP, without pipes or process start-up. `seconds` is derived
 * from iperf3's own receiver rate; `received` is what the client sent
 * (iperf3's receiver total stops at the end of its test interval and misses
 * the last bytes in flight, so it is not a delivery count).
 */
export async function iperf3Transfer(
  bytes: number,
  timeoutSeconds: number,
): Promise<TransferResult> {
  const port = freePort();
  const limit = Math.ceil(timeoutSeconds);
  const started = performance.now();
  const server = run(
    `timeout -k 2 ${
      limit + 10
    } iperf3 -s -1 -B 127.0.0.1 -p ${port} >/dev/null`,
    "/",
  );
  let serverEnded = false;
  server.done.then(() => serverEnded = true, () => serverEnded = true);
  while (
    !serverEnded && performance.now() < started + 10_000 &&
    !await isListening(port)
  ) {
    await sleep(1);
  }
  const ready = performance.now();
  const client = run(
    `timeout -k 2 ${limit} iperf3 -c 127.0.0.1 -p ${port} -n ${bytes} -J; echo "$?"`,
    "/",
  );
  const [, finished] = await Promise.all([server.done, client.done]);
  const exit = lastNumber(finished.stdout);
  const json = finished.stdout.trim().split("\n").slice(0, -1).join("\n");
  let sent = -1;
  let rate = 0;
  let error = "";
  try {
    const report = JSON.parse(json);
    sent = report.end?.sum_sent?.bytes ?? -1;
    rate = (report.end?.sum_received?.bits_per_second ?? 0) / 8;
    error = report.error ?? "";
  } catch {
    error = "iperf3 printed no JSON report";
  }
  return {
    bytes,
    received: sent,
    seconds: rate > 0 ? bytes / rate : (finished.at - ready) / 1000,
    readySeconds: (ready - started) / 1000,
    receiverExit: 0,
    senderExit: exit,
    timedOut: exit === 124,
    stderr: (error + finished.stderr).trim().slice(-500),
  };
}
