/**
 * Running the `connect` CLI in a subprocess, for the tests written after
 * tests/cli_test.ts (which has its own, larger harness): the same `deno`
 * binary and the import map this run resolves `@std` with, stdout and stderr
 * collected, stderr watched for a pattern.
 *
 * @module
 */
import { concat } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url);
/** The CLI entry point. */
export const CLI_PATH: string = new URL("cli.ts", ROOT).pathname;
/** The offline import map when this run uses the stand-ins, else none. */
export const IMPORT_MAP_ARGS: string[] =
  import.meta.resolve("@std/cli/parse-args").startsWith(
      new URL("offline/", ROOT).href,
    )
    ? [`--import-map=${new URL("offline/import_map.json", ROOT).pathname}`]
    : [];

/** How to start the CLI. */
export interface CliOptions {
  /** `deno run` permission flags (default `-A`). */
  permissions?: string[];
  /** `"piped"` to write to stdin (default: empty stdin). */
  stdin?: "piped" | "null";
  /** The working directory. */
  cwd?: string;
}

/** A CLI process whose stderr is collected as it comes. */
export class Cli implements AsyncDisposable {
  /** The child. */
  readonly child: Deno.ChildProcess;
  /** Stderr so far. */
  stderr = "";
  #stdout: Promise<Uint8Array>;
  #stderrDone: Promise<void>;
  #changed: (() => void)[] = [];
  #ended = false;

  /**
   * @param args The CLI's arguments.
   * @param options Permissions, stdin.
   */
  constructor(args: string[], options: CliOptions = {}) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        ...IMPORT_MAP_ARGS,
        ...(options.permissions ?? ["-A"]),
        CLI_PATH,
        ...args,
      ],
      cwd: options.cwd,
      stdin: options.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.#stdout = (async () => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of child.stdout) chunks.push(chunk);
      return concat(chunks);
    })();
    this.#stderrDone = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.stderr += decoder.decode(chunk, { stream: true });
        for (const wake of this.#changed.splice(0)) wake();
      }
      this.#ended = true;
      for (const wake of this.#changed.splice(0)) wake();
    })();
  }

  /** Waits until stderr matches `pattern` (fails at exit or after 30 s). */
  async waitForStderr(pattern: RegExp): Promise<RegExpMatchArray> {
    let match: RegExpMatchArray | null = null;
    await this.waitUntil((stderr) => (match = stderr.match(pattern)) !== null);
    return match!;
  }

  /** Waits until `condition` holds for stderr (fails at exit or after 30 s). */
  async waitUntil(condition: (stderr: string) => boolean): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (true) {
      if (condition(this.stderr)) return;
      if (this.#ended || Date.now() > deadline) {
        throw new Error(`${condition} never held for stderr: ${this.stderr}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#changed.push(resolve);
        timer = setTimeout(resolve, 1000);
      });
      clearTimeout(timer);
    }
  }

  /** Writes `data` to stdin and closes it. */
  async feed(data: Uint8Array): Promise<void> {
    const writer = this.child.stdin.getWriter();
    await writer.write(data);
    await writer.close();
  }

  /** Waits for the exit. */
  async result(): Promise<
    { code: number; stdout: Uint8Array; stderr: string }
  > {
    const [{ code }, stdout] = await Promise.all([
      this.child.status,
      this.#stdout,
      this.#stderrDone,
    ]);
    return { code, stdout, stderr: this.stderr };
  }

  /** Kills the child if it still runs, and reaps it. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.result();
  }
}

/** Runs the CLI to its end. */
export async function runCli(
  args: string[],
  options: CliOptions = {},
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  await using cli = new Cli(args, options);
  return await cli.result();
}

/** Starts `listen ARGS` and waits for the port it prints (or its `--json` event). */
export async function listening(
  args: string[],
  options: CliOptions = {},
): Promise<{ cli: Cli; port: number }> {
  const cli = new Cli(["listen", ...args], options);
  try {
    const match = await cli.waitForStderr(
      /listening on .*:(\d+)\n|"event":"listening".*"port":(\d+)/,
    );
    return { cli, port: Number(match[1] ?? match[2]) };
  } catch (error) {
    await cli[Symbol.asyncDispose]();
    throw error;
  }
}

/** A temporary directory, removed on disposal. */
export async function tempDir(): Promise<string & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "connect_test_" });
  return Object.assign(path, {
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  }) as unknown as string & AsyncDisposable;
}
