/**
 * Helpers for the tests against real peers (nc, ncat, socat, openssl): spawn
 * a tool or the CLI, wait until a TCP port listens without connecting to it
 * (a one-shot listener would take the probe for its peer), hash files.
 *
 * @module
 */

import { shellQuote } from "../../cli/shell.ts";

const ROOT = new URL("../../", import.meta.url);
/** The CLI entry point. */
export const CLI_PATH: string = new URL("cli.ts", ROOT).pathname;
/** The offline import map. */
export const IMPORT_MAP: string =
  new URL("offline/import_map.json", ROOT).pathname;
/** The TLS fixtures folder, with a trailing slash. */
export const FIXTURES: string = new URL("tests/fixtures/", ROOT).pathname;
/** The command line that runs the CLI (for `bash -c`). */
export const CLI_COMMAND: string[] = [
  Deno.execPath(),
  "run",
  "--no-prompt",
  `--import-map=${IMPORT_MAP}`,
  "-A",
  CLI_PATH,
];

/** What a finished process produced. */
export interface Finished {
  /** Exit code (128 + n when killed by signal n). */
  code: number;
  /** The signal that killed it, if one did. */
  signal: Deno.Signal | null;
  /** Stderr, decoded. */
  stderr: string;
  /** Stdout, decoded. */
  stdout: string;
}

/** A running process; `await using` kills and reaps it. */
export class Running implements AsyncDisposable {
  /** The child. */
  readonly child: Deno.ChildProcess;
  /** Stderr so far. */
  stderr = "";
  #stdout = "";
  #collected: Promise<void>;

  /**
   * @param command The program.
   * @param args Its arguments.
   * @param stdin Where stdin comes from (a file path, or "null").
   */
  constructor(command: string, args: string[], stdin?: string) {
    // Redirections go through bash so that stdin is a real file or /dev/null.
    const line = [command, ...args].map(shellQuote).join(" ") +
      (stdin === undefined ? " </dev/null" : ` <${shellQuote(stdin)}`);
    const child = new Deno.Command("bash", {
      args: ["-c", `exec ${line}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    const decoder = new TextDecoder();
    const errors = new TextDecoder();
    this.#collected = Promise.all([
      (async () => {
        for await (const chunk of child.stdout) {
          this.#stdout += decoder.decode(chunk, { stream: true });
        }
      })(),
      (async () => {
        for await (const chunk of child.stderr) {
          this.stderr += errors.decode(chunk, { stream: true });
        }
      })(),
    ]).then(() => {});
  }

  /** Waits until `pattern` shows on stderr (or the process ends). */
  async waitForStderr(pattern: RegExp, timeout = 20_000): Promise<string> {
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      const match = this.stderr.match(pattern);
      if (match) return match[1] ?? match[0];
      await sleep(20);
    }
    throw new Error(`timed out waiting for ${pattern}; stderr: ${this.stderr}`);
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** Waits for the exit. */
  async finished(): Promise<Finished> {
    const status = await this.child.status;
    await this.#collected;
    return {
      code: status.code,
      signal: status.signal,
      stderr: this.stderr,
      stdout: this.#stdout,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.#collected;
  }
}

/** Runs a shell line (stdout/stderr captured) to its end, bounded. */
export async function shell(line: string): Promise<Finished> {
  const output = await new Deno.Command("bash", {
    args: ["-c", line],
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    signal: output.signal,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Spawns the CLI with stdin from `stdin` (default /dev/null). */
export function cli(args: string[], stdin?: string): Running {
  const [command, ...rest] = CLI_COMMAND;
  return new Running(command, [...rest, ...args], stdin);
}

/** Spawns a peer tool. */
export function tool(command: string, args: string[], stdin?: string): Running {
  return new Running(command, args, stdin);
}

/** Milliseconds. */
export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** Whether a TCP port on 127.0.0.1 listens, read from /proc/net/tcp. */
async function listens(port: number): Promise<boolean> {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const table = await Deno.readTextFile("/proc/net/tcp");
  return table.split("\n").some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1] === hex && fields[3] === "0A";
  });
}

/** Waits until a TCP port on 127.0.0.1 listens, without connecting to it. */
export async function waitListening(port: number, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await listens(port)) return;
    await sleep(20);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/** Waits until a path exists. */
export async function waitForPath(path: string, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    try {
      await Deno.lstat(path);
      return;
    } catch {
      await sleep(20);
    }
  }
  throw new Error(`${path} never appeared`);
}

/** SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const data = await Deno.readFile(path);
  return sha256(data);
}

/** SHA-256 of bytes, hex. */
export async function sha256(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    data as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/** A temporary directory holding `data.bin` of `size` random bytes. */
export async function workspace(
  size: number,
): Promise<{ dir: string; data: string; sha: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "connect_peers_" });
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  const data = `${dir}/data.bin`;
  await Deno.writeFile(data, bytes);
  return {
    dir,
    data,
    sha: await sha256(bytes),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The port a `listen` run prints. */
export async function listenPort(process: Running): Promise<number> {
  return Number(await process.waitForStderr(/listening on .*:(\d+)\n/));
}

/**
 * `openssl s_server` on 127.0.0.1:`port` with the fixture certificate, for
 * one connection, quiet (stdin goes to the client, what it sends to stdout),
 * followed by `extra`.
 */
export function opensslServerArgs(port: number, ...extra: string[]): string[] {
  return [
    "s_server",
    "-quiet",
    "-accept",
    `127.0.0.1:${port}`,
    "-cert",
    `${FIXTURES}localhost.pem`,
    "-key",
    `${FIXTURES}localhost.key.pem`,
    "-naccept",
    "1",
    ...extra,
  ];
}

/** The TLS flags of `connect listen`. */
export const TLS_LISTEN: string[] = [
  "--tls",
  "--cert",
  `${FIXTURES}localhost.pem`,
  "--key",
  `${FIXTURES}localhost.key.pem`,
];
/** The TLS flags of `connect connect` to the fixture server. */
export const TLS_CONNECT: string[] = [
  "--tls",
  "--ca",
  `${FIXTURES}ca.pem`,
  "--servername",
  "localhost",
];
