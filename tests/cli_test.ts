/**
 * Tests of the `connect` CLI (cli.ts): real subprocesses (the same `deno`
 * binary, the offline import map) talking over loopback sockets.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { Connector } from "../mod.ts";
import { parseCliArgs, UsageError } from "../cli/args.ts";
import { pump, PumpError } from "../cli/copy.ts";
import {
  concat,
  freePort,
  fullBacklogListener,
  randomBytes,
  readToEnd,
  writeAll,
} from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url);
/** The CLI entry point. */
const CLI_PATH: string = new URL("cli.ts", ROOT).pathname;
/** The offline import map every hermetic run uses. */
const IMPORT_MAP: string = new URL("offline/import_map.json", ROOT).pathname;
/** The TLS fixtures folder, with a trailing slash. */
const FIXTURES: string = new URL("tests/fixtures/", ROOT).pathname;

/** How to spawn the CLI. */
interface CliSpawnOptions {
  /** `deno run` permission flags (default `["-A"]`). */
  permissions?: string[];
  /** `"piped"` to feed stdin; `"null"` (default) for an empty stdin. */
  stdin?: "piped" | "null";
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** What a finished CLI process produced. */
interface CliResult {
  /** The exit code. */
  code: number;
  /** Everything written to stdout. */
  stdout: Uint8Array;
  /** Everything written to stderr, decoded. */
  stderr: string;
}

/** A running CLI process; `await using` kills and reaps it. */
class CliProcess implements AsyncDisposable {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Stderr so far, decoded. */
  stderr = "";
  /** Bytes read from stdout so far. */
  stdoutBytes = 0;
  #chunks: Uint8Array[] = [];
  #listeners = new Set<() => void>();
  #collected: Promise<void>;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #stdinPiped: boolean;
  #exited = false;

  /**
   * @param args The CLI's arguments.
   * @param options Permissions, stdin, environment.
   */
  constructor(args: string[], options: CliSpawnOptions = {}) {
    this.#stdinPiped = options.stdin === "piped";
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--import-map=${IMPORT_MAP}`,
        ...(options.permissions ?? ["-A"]),
        CLI_PATH,
        ...args,
      ],
      stdin: options.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
    }).spawn();
    this.child = child;
    const notify = () => {
      for (const listener of this.#listeners) listener();
    };
    const stdout = (async () => {
      for await (const chunk of child.stdout) {
        this.#chunks.push(chunk);
        this.stdoutBytes += chunk.length;
        notify();
      }
    })();
    const stderr = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.stderr += decoder.decode(chunk, { stream: true });
        notify();
      }
    })();
    this.#collected = Promise.all([stdout, stderr]).then(() => {
      this.#exited = true;
      notify();
    });
  }

  /** Resolves when `condition` holds, rejects after `timeout` ms or at exit. */
  #until<T>(
    condition: () => T | undefined,
    what: string,
    timeout: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = condition();
        if (value !== undefined) {
          cleanup();
          resolve(value);
        } else if (this.#exited) {
          cleanup();
          reject(
            new Error(`the CLI exited before ${what}; stderr: ${this.stderr}`),
          );
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`timed out waiting for ${what}; stderr: ${this.stderr}`),
        );
      }, timeout);
      const cleanup = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Waits for `pattern` on stderr. */
  waitForStderr(pattern: RegExp, timeout = 30_000): Promise<RegExpMatchArray> {
    return this.#until(
      () => this.stderr.match(pattern) ?? undefined,
      `${pattern} on stderr`,
      timeout,
    );
  }

  /** Waits until at least `bytes` bytes arrived on stdout. */
  waitForStdout(bytes: number, timeout = 30_000): Promise<number> {
    return this.#until(
      () => this.stdoutBytes >= bytes ? this.stdoutBytes : undefined,
      `${bytes} bytes on stdout`,
      timeout,
    );
  }

  #stdin(): WritableStreamDefaultWriter<Uint8Array> {
    this.#writer ??= this.child.stdin.getWriter();
    return this.#writer;
  }

  /** Writes `data` to stdin, then closes stdin. */
  async feed(data: Uint8Array): Promise<void> {
    const writer = this.#stdin();
    // Large writes in slices, so that a dead child fails the write early.
    for (let offset = 0; offset < data.length; offset += 1 << 20) {
      await writer.write(data.subarray(offset, offset + (1 << 20)));
    }
    await writer.close();
  }

  /**
   * Writes `chunk` to stdin again and again until the child stops reading
   * (it exited); never closes stdin on its own.
   */
  async feedForever(chunk: Uint8Array): Promise<void> {
    const writer = this.#stdin();
    try {
      while (true) await writer.write(chunk);
    } catch {
      // The child is gone: its stdin pipe broke.
    }
  }

  /** Waits for the exit and returns code, stdout and stderr. */
  async result(): Promise<CliResult> {
    const status = await this.child.status;
    await this.#collected;
    return {
      code: status.code,
      stdout: concat(this.#chunks),
      stderr: this.stderr,
    };
  }

  /** Kills the child if it still runs, and reaps it and its pipes. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.child.status;
    await this.#collected;
    if (this.#stdinPiped) {
      if (this.#writer !== undefined) {
        await this.#writer.abort().catch(() => {});
      } else {
        await this.child.stdin.abort().catch(() => {});
      }
    }
  }
}

/** Spawns the CLI. */
function spawnCli(
  args: string[],
  options: CliSpawnOptions = {},
): CliProcess {
  return new CliProcess(args, options);
}

/** Runs the CLI to its end. */
async function runCli(
  args: string[],
  options: CliSpawnOptions = {},
): Promise<CliResult> {
  await using process = spawnCli(args, options);
  return await process.result();
}

/** Spawns `listen` and waits for the port it prints. */
async function startListener(
  args: string[],
  options: CliSpawnOptions = {},
): Promise<{ process: CliProcess; port: number }> {
  const process = spawnCli(["listen", ...args], options);
  try {
    const match = await process.waitForStderr(/listening on .*:(\d+)\n/);
    return { process, port: Number(match[1]) };
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
}

/** The SHA-256 of `data`, in hex. */
async function sha256(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    data as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/** The non-empty lines of a text. */
function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MiB = 1024 * 1024;

async function tempDir(): Promise<string & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "connect_cli_test_" });
  return Object.assign(path, {
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  }) as unknown as string & AsyncDisposable;
}

// --- data path -------------------------------------------------------------

for (
  const [label, size] of [
    ["0 bytes", 0],
    ["1 byte", 1],
    ["1 MiB", MiB],
  ] as const
) {
  Deno.test(`cli: connect and listen carry ${label} each way at once, byte-exact`, async () => {
    const toListener = randomBytes(size);
    const toConnector = randomBytes(size);
    const { process: listener, port } = await startListener(
      ["--host", "127.0.0.1"],
      { stdin: "piped" },
    );
    await using _listener = listener;
    await using connector = spawnCli(["connect", "127.0.0.1", String(port)], {
      stdin: "piped",
    });
    await Promise.all([listener.feed(toConnector), connector.feed(toListener)]);
    const [listened, connected] = await Promise.all([
      listener.result(),
      connector.result(),
    ]);
    assertEquals(listened.code, 0, listened.stderr);
    assertEquals(connected.code, 0, connected.stderr);
    assertEquals(listened.stdout, toListener);
    assertEquals(connected.stdout, toConnector);
    assertEquals(connected.stderr, "", "stderr stays quiet without a terminal");
  });
}

for (const direction of ["connect to listen", "listen to connect"] as const) {
  Deno.test(`cli: 64 MiB from ${direction} arrive byte-exact`, async () => {
    const data = randomBytes(64 * MiB);
    const { process: listener, port } = await startListener(
      ["--host", "127.0.0.1"],
      { stdin: "piped" },
    );
    await using _listener = listener;
    await using connector = spawnCli(["connect", "127.0.0.1", String(port)], {
      stdin: "piped",
    });
    const [sender, receiver] = direction === "connect to listen"
      ? [connector, listener]
      : [listener, connector];
    await Promise.all([sender.feed(data), receiver.feed(new Uint8Array(0))]);
    const [sent, received] = await Promise.all([
      sender.result(),
      receiver.result(),
    ]);
    assertEquals(sent.code, 0, sent.stderr);
    assertEquals(received.code, 0, received.stderr);
    assertEquals(received.stdout.length, data.length);
    assertEquals(await sha256(received.stdout), await sha256(data));
    assertEquals(sent.stdout.length, 0);
  });
}

Deno.test("cli: 64 MiB one way with --send-only and --recv-only (blocking stdio) arrive byte-exact", async () => {
  const data = randomBytes(64 * MiB);
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1", "--recv-only"],
    { stdin: "piped" },
  );
  await using _listener = listener;
  await using connector = spawnCli(
    ["connect", "127.0.0.1", String(port), "--send-only"],
    { stdin: "piped" },
  );
  await Promise.all([connector.feed(data), listener.feed(new Uint8Array(0))]);
  const [sent, received] = await Promise.all([
    connector.result(),
    listener.result(),
  ]);
  assertEquals(
    [sent.code, received.code],
    [0, 0],
    sent.stderr + received.stderr,
  );
  assertEquals(received.stdout.length, data.length);
  assertEquals(await sha256(received.stdout), await sha256(data));
});

Deno.test("cli: connect half-closes at the end of stdin and still receives the reply", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using connector = spawnCli(
    ["connect", "127.0.0.1", String(server.addr.port)],
    { stdin: "piped" },
  );
  using conn = await server.accept();
  await connector.feed(encoder.encode("question"));
  // The server sees the end of the request only because the CLI half-closed.
  assertEquals(decoder.decode(await readToEnd(conn)), "question");
  await writeAll(conn, encoder.encode("answer to the question"));
  conn.closeWrite();
  const result = await connector.result();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(decoder.decode(result.stdout), "answer to the question");
});

Deno.test("cli: listen keeps sending after its peer half-closed", async () => {
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1"],
    { stdin: "piped" },
  );
  await using _listener = listener;
  using client = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(client, encoder.encode("request"));
  await client.closeWrite();
  await listener.waitForStdout("request".length);
  await listener.feed(encoder.encode("reply"));
  assertEquals(decoder.decode(await readToEnd(client)), "reply");
  const result = await listener.result();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(decoder.decode(result.stdout), "request");
});

Deno.test("cli: --send and --recv move files with equal SHA-256, both ways", async () => {
  await using dir = await tempDir();
  const data = randomBytes(3 * MiB + 17);
  await Deno.writeFile(`${dir}/source.bin`, data);
  for (const sender of ["connect", "listen"] as const) {
    const target = `${dir}/target-${sender}.bin`;
    const listenArgs = sender === "listen"
      ? ["--send", `${dir}/source.bin`]
      : ["--recv", target];
    const connectArgs = sender === "connect"
      ? ["--send", `${dir}/source.bin`]
      : ["--recv", target];
    const { process: listener, port } = await startListener([
      "--host",
      "127.0.0.1",
      ...listenArgs,
    ]);
    await using _listener = listener;
    const connected = await runCli([
      "connect",
      "127.0.0.1",
      String(port),
      ...connectArgs,
    ]);
    const listened = await listener.result();
    assertEquals(connected.code, 0, connected.stderr);
    assertEquals(listened.code, 0, listened.stderr);
    assertEquals(
      await sha256(await Deno.readFile(target)),
      await sha256(data),
      `${sender} sent the file`,
    );
    assertEquals(connected.stdout.length + listened.stdout.length, 0);
  }
});

Deno.test("cli: --progress draws on stderr while stdout stays byte-exact", async () => {
  const data = randomBytes(2 * MiB);
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1", "--progress"],
    { stdin: "piped" },
  );
  await using _listener = listener;
  await using connector = spawnCli(
    ["connect", "127.0.0.1", String(port), "--progress"],
    { stdin: "piped" },
  );
  await Promise.all([connector.feed(data), listener.feed(new Uint8Array(0))]);
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals(listened.code, 0, listened.stderr);
  assertEquals(connected.code, 0, connected.stderr);
  assertEquals(await sha256(listened.stdout), await sha256(data));
  assertStringIncludes(connected.stderr, "sent 2.0 MiB");
  assertStringIncludes(listened.stderr, "received 2.0 MiB");
  assertStringIncludes(connected.stderr, "done: sent 2.0 MiB");
});

Deno.test("cli: listen on port 0 prints the real port and a peer can use it", async () => {
  const { process: listener, port } = await startListener([
    "0",
    "--host",
    "127.0.0.1",
  ], { stdin: "piped" });
  await using _listener = listener;
  assertGreater(port, 0);
  assertMatch(listener.stderr, /^listening on 127\.0\.0\.1:\d+\n$/);
  using client = await Deno.connect({ hostname: "127.0.0.1", port });
  await listener.feed(encoder.encode("port zero works"));
  await client.closeWrite();
  assertEquals(decoder.decode(await readToEnd(client)), "port zero works");
  assertEquals((await listener.result()).code, 0);
});

Deno.test("cli: unix sockets carry data both ways", async () => {
  await using dir = await tempDir();
  const path = `${dir}/connect.sock`;
  const listener = spawnCli(["listen", "--unix", path], { stdin: "piped" });
  await using _listener = listener;
  await listener.waitForStderr(/listening on .+\n/);
  assertStringIncludes(listener.stderr, path);
  await using connector = spawnCli(["connect", "--unix", path], {
    stdin: "piped",
  });
  await Promise.all([
    listener.feed(encoder.encode("from listen")),
    connector.feed(encoder.encode("from connect")),
  ]);
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals([listened.code, connected.code], [0, 0], connected.stderr);
  assertEquals(decoder.decode(listened.stdout), "from connect");
  assertEquals(decoder.decode(connected.stdout), "from listen");
});

Deno.test("cli: connect --wait keeps retrying a refused port until its time is up: exit 1, timed out rather than refused", async () => {
  const port = freePort();
  const result = await runCli([
    "connect",
    "127.0.0.1",
    String(port),
    "--wait",
    "1",
  ]);
  assertEquals(result.code, 1);
  assertEquals(lines(result.stderr).length, 1, result.stderr);
  assertStringIncludes(result.stderr, `127.0.0.1:${port}`);
  assertStringIncludes(result.stderr, "Timed out after 1000 ms");
  assert(!result.stderr.includes("refused"), result.stderr);
});

Deno.test("cli: connect --wait reaches a listener started after it", async () => {
  const port = freePort();
  await using connector = spawnCli(
    ["connect", "127.0.0.1", String(port), "--wait", "30"],
    { stdin: "piped" },
  );
  await connector.feed(encoder.encode("patience"));
  await using listener = spawnCli([
    "listen",
    String(port),
    "--host",
    "127.0.0.1",
  ]);
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals(connected.code, 0, connected.stderr);
  assertEquals(listened.code, 0, listened.stderr);
  assertEquals(decoder.decode(listened.stdout), "patience");
});

Deno.test("cli: connect without --wait or --retry fails at once when refused, exit 1", async () => {
  const port = freePort();
  const result = await runCli(["connect", "127.0.0.1", String(port)]);
  assertEquals(result.code, 1);
  assertEquals(lines(result.stderr).length, 1, result.stderr);
  assertStringIncludes(result.stderr, `127.0.0.1:${port}`);
  assertStringIncludes(result.stderr, "refused");
});

// --- allow-list ------------------------------------------------------------

/** Connects from 127.0.0.2 (node can pick the source address; Deno cannot). */
async function connectFromOutsider(port: number): Promise<string> {
  const script = `
    const socket = require("node:net").connect({
      host: "127.0.0.1", port: ${port}, localAddress: "127.0.0.2",
    });
    let received = 0;
    socket.on("data", (chunk) => { received += chunk.length; });
    socket.on("error", (error) => { console.log("error " + error.code); });
    socket.on("close", () => { console.log("closed after " + received); });
    socket.write("intruder");`;
  const output = await new Deno.Command("node", {
    args: ["-e", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return decoder.decode(output.stdout).trim();
}

Deno.test("cli: listen --allow refuses an outsider and keeps waiting for the allowed peer", async () => {
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1", "--allow", "127.0.0.1"],
    { stdin: "piped" },
  );
  await using _listener = listener;
  const outsider = await connectFromOutsider(port);
  assertMatch(outsider, /closed after 0$/, outsider);
  await using connector = spawnCli(["connect", "127.0.0.1", String(port)], {
    stdin: "piped",
  });
  await Promise.all([
    connector.feed(encoder.encode("insider")),
    listener.feed(encoder.encode("welcome")),
  ]);
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals([listened.code, connected.code], [0, 0], listened.stderr);
  assertEquals(decoder.decode(listened.stdout), "insider");
  assertEquals(decoder.decode(connected.stdout), "welcome");
});

// --- TLS -------------------------------------------------------------------

const TLS_LISTEN = [
  "--tls",
  "--cert",
  `${FIXTURES}localhost.pem`,
  "--key",
  `${FIXTURES}localhost.key.pem`,
];

Deno.test("cli: TLS with the fixture certificates carries data both ways", async () => {
  const toListener = randomBytes(MiB + 5);
  const toConnector = randomBytes(300_000);
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1", ...TLS_LISTEN],
    { stdin: "piped" },
  );
  await using _listener = listener;
  await using connector = spawnCli(
    [
      "connect",
      "127.0.0.1",
      String(port),
      "--tls",
      "--ca",
      `${FIXTURES}ca.pem`,
      "--servername",
      "localhost",
      "--json",
    ],
    { stdin: "piped" },
  );
  await Promise.all([listener.feed(toConnector), connector.feed(toListener)]);
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals(listened.code, 0, listened.stderr);
  assertEquals(connected.code, 0, connected.stderr);
  assertEquals(await sha256(listened.stdout), await sha256(toListener));
  assertEquals(await sha256(connected.stdout), await sha256(toConnector));
  // Deno.startTls gives addresses without "transport": still shown as host:port.
  const [event] = lines(connected.stderr).map((line) => JSON.parse(line));
  assertEquals(
    [event.event, event.remote, event.tls],
    ["connected", `127.0.0.1:${port}`, true],
  );
  assertMatch(event.local, /^127\.0\.0\.1:\d+$/);
});

for (
  const [label, extra, expected] of [
    ["an unknown CA", [], "not signed by a trusted CA"],
    [
      "a name mismatch",
      ["--ca", `${FIXTURES}ca.pem`, "--servername", "other.example"],
      'not valid for the name "other.example"',
    ],
  ] as const
) {
  Deno.test(`cli: TLS verification failing on ${label} exits 1 with one clear line`, async () => {
    const { process: listener, port } = await startListener([
      "--host",
      "127.0.0.1",
      ...TLS_LISTEN,
    ]);
    await using _listener = listener;
    const result = await runCli(
      ["connect", "127.0.0.1", String(port), "--tls", ...extra],
      { stdin: "null" },
    );
    assertEquals(result.code, 1);
    assertEquals(lines(result.stderr).length, 1, result.stderr);
    assertStringIncludes(result.stderr, expected);
    assertEquals(result.stdout.length, 0);
  });
}

Deno.test("cli: --alpn negotiates a common protocol; with none, connect exits 1 with one line saying the TLS handshake failed", async () => {
  {
    const { process: listener, port } = await startListener([
      "--host",
      "127.0.0.1",
      ...TLS_LISTEN,
      "--alpn",
      "transfer/1",
    ]);
    await using _listener = listener;
    const result = await runCli([
      "connect",
      "127.0.0.1",
      String(port),
      "--tls",
      "--ca",
      `${FIXTURES}ca.pem`,
      "--alpn",
      "h2",
      "--alpn",
      "transfer/1",
      "--json",
    ]);
    assertEquals(result.code, 0, result.stderr);
    const [event] = lines(result.stderr).map((line) => JSON.parse(line));
    assertEquals([event.event, event.alpn], ["connected", "transfer/1"]);
    assertEquals((await listener.result()).code, 0);
  }
  {
    const { process: listener, port } = await startListener([
      "--host",
      "127.0.0.1",
      ...TLS_LISTEN,
      "--alpn",
      "transfer/1",
    ]);
    await using _listener = listener;
    const result = await runCli([
      "connect",
      "127.0.0.1",
      String(port),
      "--tls",
      "--ca",
      `${FIXTURES}ca.pem`,
      "--alpn",
      "h2",
    ]);
    assertEquals(result.code, 1);
    assertEquals(lines(result.stderr).length, 1, result.stderr);
    // Usually "no common ALPN protocol"; the listener drops the peer right
    // after its alert, so the client sometimes sees the reset first.
    assertStringIncludes(
      result.stderr,
      `TLS handshake with 127.0.0.1:${port} failed`,
    );
  }
});

Deno.test("cli: connect --tls with a client certificate (--cert, --key) carries data", async () => {
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1", ...TLS_LISTEN],
  );
  await using _listener = listener;
  await using connector = spawnCli([
    "connect",
    "127.0.0.1",
    String(port),
    "--tls",
    "--ca",
    `${FIXTURES}ca.pem`,
    "--cert",
    `${FIXTURES}client.pem`,
    "--key",
    `${FIXTURES}client.key.pem`,
  ], { stdin: "piped" });
  await connector.feed(encoder.encode("with a client certificate"));
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals([listened.code, connected.code], [0, 0], connected.stderr);
  assertEquals(decoder.decode(listened.stdout), "with a client certificate");
});

// --- failures mid-transfer -------------------------------------------------

Deno.test("cli: a listener killed mid-transfer makes the sending connect exit 1", async () => {
  const { process: listener, port } = await startListener([
    "--host",
    "127.0.0.1",
  ]);
  await using _listener = listener;
  await using connector = spawnCli(["connect", "127.0.0.1", String(port)], {
    stdin: "piped",
  });
  const feeding = connector.feedForever(randomBytes(256 * 1024));
  await listener.waitForStdout(4 * MiB);
  listener.child.kill("SIGKILL");
  const result = await connector.result();
  await feeding;
  assertEquals(result.code, 1, result.stderr);
  assertEquals(lines(result.stderr).length, 1, result.stderr);
  assertStringIncludes(result.stderr, "127.0.0.1");
});

Deno.test("cli: a TLS listener killed mid-transfer makes the receiving connect exit 1 (no close_notify)", async () => {
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1", ...TLS_LISTEN],
    { stdin: "piped" },
  );
  await using _listener = listener;
  const feeding = listener.feedForever(randomBytes(256 * 1024));
  await using connector = spawnCli([
    "connect",
    "127.0.0.1",
    String(port),
    "--tls",
    "--ca",
    `${FIXTURES}ca.pem`,
  ]);
  await connector.waitForStdout(4 * MiB);
  listener.child.kill("SIGKILL");
  const result = await connector.result();
  await feeding;
  assertEquals(result.code, 1, result.stderr);
  assertEquals(lines(result.stderr).length, 1, result.stderr);
  assertStringIncludes(result.stderr, "without close_notify");
  assertStringIncludes(result.stderr, "truncated");
});

// --- timeouts --------------------------------------------------------------

Deno.test("cli: listen --timeout exits 1 when no peer comes", async () => {
  const started = performance.now();
  const result = await runCli([
    "listen",
    "--host",
    "127.0.0.1",
    "--timeout",
    "0.5",
  ]);
  assertEquals(result.code, 1);
  assertMatch(lines(result.stderr)[0], /^listening on 127\.0\.0\.1:\d+$/);
  assertEquals(lines(result.stderr).length, 2, result.stderr);
  assertStringIncludes(result.stderr, "Timed out after 500 ms");
  assert(performance.now() - started < 20_000);
});

Deno.test("cli: connect --timeout exits 1 when the connection never completes", async () => {
  await using hanging = await fullBacklogListener();
  const result = await runCli([
    "connect",
    "127.0.0.1",
    String(hanging.port),
    "--timeout",
    "0.5",
  ]);
  assertEquals(result.code, 1);
  assertEquals(lines(result.stderr).length, 1, result.stderr);
  assertStringIncludes(result.stderr, "Timed out after 500 ms");
});

// --- usage, permissions, help ----------------------------------------------

const USAGE_ERRORS: string[][] = [
  [],
  ["fetch"],
  ["connect"],
  ["connect", "localhost"],
  ["connect", "localhost", "0"],
  ["connect", "localhost", "65536"],
  ["connect", "localhost", "http"],
  ["connect", "localhost", "80", "extra"],
  ["listen", "1", "2"],
  ["listen", "70000"],
  ["listen", "-1"],
  ["listen", "--timeout", "0"],
  ["listen", "--timeout", "soon"],
  ["listen", "--timeout"],
  ["connect", "localhost", "80", "--retry", "1.5"],
  ["connect", "localhost", "80", "--wait", "5", "--timeout", "5"],
  ["listen", "--retry", "1"],
  ["listen", "--wait", "1"],
  ["connect", "localhost", "80", "--allow", "127.0.0.1"],
  ["connect", "localhost", "80", "--host", "127.0.0.1"],
  ["listen", "--allow", "not-an-address"],
  ["listen", "--tls"],
  ["listen", "--tls", "--cert", "cert.pem"],
  ["listen", "--tls", "--cert", "c.pem", "--key", "k.pem", "--ca", "ca.pem"],
  ["connect", "localhost", "80", "--ca", "ca.pem"],
  ["connect", "localhost", "80", "--tls", "--cert", "client.pem"],
  ["connect", "localhost", "80", "--alpn", "h2"],
  ["listen", "--unix", "/tmp/x.sock", "9000"],
  ["listen", "--unix", "/tmp/x.sock", "--allow", "127.0.0.1"],
  ["connect", "--unix", "/tmp/x.sock", "--tls"],
  ["connect", "localhost", "80", "--send-only", "--recv-only"],
  ["connect", "localhost", "80", "--send", "f", "--recv-only"],
  ["connect", "localhost", "80", "--recv", "f", "--send-only"],
  ["connect", "localhost", "80", "--send", "f", "--recv", "f"],
  ["connect", "localhost", "80", "--progress", "--quiet"],
  ["connect", "localhost", "80", "--new-secret"],
  ["listen", "--secret-file", "s", "--new-secret"],
  ["listen", "--code", "9000"],
  ["connect", "localhost", "80", "--code"],
  ["connect", "localhost", "80", "--code", "42-appel-river-stone-quick"],
  ["connect", "localhost", "80", "--code", "apple-river"],
  [
    "connect",
    "localhost",
    "80",
    "--code",
    "42-apple-cabin-stone-quiet",
    "--secret-file",
    "s",
  ],
  ["listen", "--secret-env", "A=B"],
  ["connect", "localhost", "80", "--frobnicate"],
  ["connect", "localhost", "80", "-x"],
];

Deno.test("cli: every usage error exits 2 with one line that points to --help", async () => {
  for (const args of USAGE_ERRORS) {
    const result = await runCli(args, { permissions: [] });
    const shown = JSON.stringify(args);
    assertEquals(result.code, 2, `${shown}: ${result.stderr}`);
    assertEquals(lines(result.stderr).length, 1, `${shown}: ${result.stderr}`);
    assertMatch(result.stderr, /^connect: .+ \(see connect --help\)\n$/);
    assertEquals(result.stdout.length, 0, shown);
  }
});

Deno.test("cli: parseCliArgs throws UsageError, never a number or a TypeError", () => {
  for (const args of USAGE_ERRORS) {
    // Errors found by the Connector itself (the allow entry) surface in
    // main(), as does connect --code without a terminal to ask on.
    if (args.includes("not-an-address") || args.at(-1) === "--code") continue;
    const error = (() => {
      try {
        parseCliArgs(args);
      } catch (error) {
        return error;
      }
    })();
    assertInstanceOf(error, UsageError, args.join(" "));
  }
  const options = parseCliArgs([
    "connect",
    "localhost",
    "0080",
    "--retry",
    "2",
    "--timeout",
    "1.5",
    "--tls",
    "--alpn",
    "h2",
    "--alpn",
    "http/1.1",
  ]);
  assertEquals(options.connector, {
    mode: "active",
    host: "localhost",
    port: 80,
    timeout: 1500,
    retry: { attempts: 3, delay: 100, maxDelay: 1000 },
    tls: { alpnProtocols: ["h2", "http/1.1"] },
  });
});

Deno.test("cli: --help, -h and --version print to stdout and exit 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const result = await runCli([flag], { permissions: [] });
    assertEquals(result.code, 0);
    const text = decoder.decode(result.stdout);
    assertStringIncludes(text, "Exit codes:");
    assertStringIncludes(text, "connect listen [PORT]");
    assertStringIncludes(text, "Examples:");
    assertEquals(result.stderr, "");
  }
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const version = await runCli(["--version"], { permissions: [] });
  assertEquals(version.code, 0);
  assertEquals(decoder.decode(version.stdout), `connect ${config.version}\n`);
});

Deno.test("cli: a missing permission exits 3 and names the flag", async () => {
  const port = freePort();
  const net = await runCli(["connect", "127.0.0.1", String(port)], {
    permissions: [],
  });
  assertEquals(net.code, 3, net.stderr);
  assertEquals(lines(net.stderr).length, 1, net.stderr);
  assertStringIncludes(net.stderr, `--allow-net=127.0.0.1:${port}`);

  const read = await runCli(
    ["connect", "127.0.0.1", String(port), "--send", "/etc/hostname"],
    { permissions: [`--allow-net=127.0.0.1:${port}`] },
  );
  assertEquals(read.code, 3, read.stderr);
  assertStringIncludes(read.stderr, "--allow-read=/etc/hostname");

  const write = await runCli(
    ["listen", "--host", "127.0.0.1", "--recv", "/tmp/connect-cli-denied"],
    { permissions: ["--allow-net=127.0.0.1:0"] },
  );
  assertEquals(write.code, 3, write.stderr);
  assertStringIncludes(write.stderr, "--allow-write=/tmp/connect-cli-denied");
  assert(!write.stderr.includes("listening"), "fails before listening");
});

Deno.test("cli: --permissions prints flags that work verbatim for a real TLS file transfer", async () => {
  await using dir = await tempDir();
  const data = randomBytes(MiB);
  const source = `${dir}/in.bin`;
  const target = `${dir}/out.bin`;
  await Deno.writeFile(source, data);
  const listenArgs = [
    "listen",
    "--host",
    "127.0.0.1",
    "--recv",
    target,
    ...TLS_LISTEN,
  ];
  const printedListen = await runCli([...listenArgs, "--permissions"], {
    permissions: [],
  });
  assertEquals(printedListen.code, 0, printedListen.stderr);
  const listenFlags = decoder.decode(printedListen.stdout).trim().split(" ");
  assertEquals(listenFlags, [
    "--allow-net=127.0.0.1:0",
    `--allow-read=${FIXTURES}localhost.pem,${FIXTURES}localhost.key.pem`,
    `--allow-write=${target}`,
  ]);
  const listener = spawnCli(listenArgs, {
    permissions: listenFlags,
  });
  await using _listener = listener;
  const port = Number(
    (await listener.waitForStderr(/listening on .*:(\d+)\n/))[1],
  );

  const connectArgs = [
    "connect",
    "127.0.0.1",
    String(port),
    "--send",
    source,
    "--tls",
    "--ca",
    `${FIXTURES}ca.pem`,
  ];
  const printedConnect = await runCli([...connectArgs, "--permissions"], {
    permissions: [],
  });
  assertEquals(printedConnect.code, 0, printedConnect.stderr);
  const connectFlags = decoder.decode(printedConnect.stdout).trim().split(" ");
  assertEquals(connectFlags, [
    `--allow-net=127.0.0.1:${port}`,
    `--allow-read=${FIXTURES}ca.pem,${source}`,
  ]);
  const connected = await runCli(connectArgs, { permissions: connectFlags });
  const listened = await listener.result();
  assertEquals(connected.code, 0, connected.stderr);
  assertEquals(listened.code, 0, listened.stderr);
  assertEquals(await sha256(await Deno.readFile(target)), await sha256(data));
});

Deno.test("cli: --permissions touches no network", async () => {
  const port = freePort();
  using server = Deno.listen({ hostname: "127.0.0.1", port });
  const accepted = server.accept().then((conn) => {
    conn.close();
    return true;
  }, () => false);
  const result = await runCli(
    ["connect", "127.0.0.1", String(port), "--permissions"],
    { permissions: [`--allow-net=127.0.0.1:${port}`] },
  );
  assertEquals(result.code, 0, result.stderr);
  assertEquals(
    decoder.decode(result.stdout),
    `--allow-net=127.0.0.1:${port}\n`,
  );
  server.close();
  assertEquals(await accepted, false, "nobody connected");
});

Deno.test("cli: --json prints one parseable event per line on stderr", async () => {
  const data = randomBytes(100_000);
  const jsonListener = spawnCli(["listen", "--host", "127.0.0.1", "--json"], {
    stdin: "piped",
  });
  await using _listener = jsonListener;
  const match = await jsonListener.waitForStderr(/"port":(\d+)/);
  await using connector = spawnCli(
    ["connect", "127.0.0.1", match[1], "--json"],
    { stdin: "piped" },
  );
  await Promise.all([
    connector.feed(data),
    jsonListener.feed(encoder.encode("ok")),
  ]);
  const [listened, connected] = await Promise.all([
    jsonListener.result(),
    connector.result(),
  ]);
  assertEquals([listened.code, connected.code], [0, 0], listened.stderr);
  const listenEvents = lines(listened.stderr).map((line) => JSON.parse(line));
  const connectEvents = lines(connected.stderr).map((line) => JSON.parse(line));
  assertEquals(
    listenEvents.map((event) => event.event).filter((name) =>
      name !== "progress"
    ),
    ["listening", "connected", "done"],
  );
  assertEquals(listenEvents[0].port, Number(match[1]));
  assertEquals(
    connectEvents.map((event) => event.event).filter((name) =>
      name !== "progress"
    ),
    ["connected", "done"],
  );
  const done = connectEvents.at(-1);
  assertEquals([done.sent, done.received, done.exitCode], [100_000, 2, 0]);
  assertEquals(typeof done.seconds, "number");
  assertEquals(connectEvents[0].remote, `127.0.0.1:${match[1]}`);
  assert(
    !listened.stderr.includes("listening on"),
    "no text line in JSON mode",
  );

  const failed = await runCli(
    ["connect", "127.0.0.1", String(freePort()), "--json"],
  );
  assertEquals(failed.code, 1);
  const [error] = lines(failed.stderr).map((line) => JSON.parse(line));
  assertEquals([error.event, error.exitCode], ["error", 1]);
  assertStringIncludes(error.message, "refused");

  const usage = await runCli(["connect", "127.0.0.1", "--json"], {
    permissions: [],
  });
  assertEquals(usage.code, 2);
  const [usageError] = lines(usage.stderr).map((line) => JSON.parse(line));
  assertEquals([usageError.event, usageError.exitCode], ["error", 2]);
  assertStringIncludes(usageError.message, "see connect --help");
});

// --- codes and shared secrets (issue 14) -----------------------------------

Deno.test("cli: listen --code prints a code and a counterpart command that works verbatim", async () => {
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1", "--code"],
    { stdin: "piped" },
  );
  await using _listener = listener;
  const match = await listener.waitForStderr(
    /\ncode: (\S+)\n.*\n {2}deno run (\S+) (\S+) (\S+) connect (\S+) (\d+) --code\n/,
  );
  const [, code, flags, importMap, module, host, printedPort] = match;
  assertMatch(code, /^\d\d(-[a-z]{4,5}){4}$/);
  assertEquals(flags, `--allow-net=127.0.0.1:${port}`);
  assertEquals(importMap, `--import-map=${IMPORT_MAP}`);
  assertEquals(module, CLI_PATH);
  // Typed at the prompt as printed: tests/code_prompt_test.ts. Here the code
  // is given in argv, as an older script would.
  assertEquals([host, Number(printedPort)], ["127.0.0.1", port]);
  await using connector = spawnCli(
    ["connect", host, printedPort, "--code", code.toUpperCase()],
    { permissions: [flags], stdin: "piped" },
  );
  await Promise.all([
    connector.feed(encoder.encode("authenticated hello")),
    listener.feed(encoder.encode("authenticated reply")),
  ]);
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals([listened.code, connected.code], [0, 0], connected.stderr);
  assertEquals(decoder.decode(listened.stdout), "authenticated hello");
  assertEquals(decoder.decode(connected.stdout), "authenticated reply");
  // Two CLIs with a code confirm delivery without --confirm: announced and
  // authenticated inside the exchange; the encrypted records vouch for every
  // byte, so no SHA-256 is computed.
  for (const stderr of [connected.stderr, listened.stderr]) {
    assertStringIncludes(
      stderr,
      "wrote the 19 bytes sent, every record authenticated",
    );
    assert(!stderr.includes("SHA-256"), stderr);
  }
});

Deno.test("cli: with a secret, a library peer that announces no confirmation gets a byte-exact stream and nothing else", async () => {
  await using dir = await tempDir();
  const secretFile = `${dir}/secret`;
  await Deno.writeTextFile(secretFile, "12-apple-cabin-stone-quiet\n");
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    secret: "12-apple-cabin-stone-quiet",
    timeout: 10_000,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  const data = randomBytes(100_000);
  await using cli = spawnCli(
    ["connect", "127.0.0.1", String(port), "--secret-file", secretFile],
    { stdin: "piped", permissions: ["-A"] },
  );
  using server = await waiting;
  assertEquals(passive.peerConfirmsDelivery, true, "the CLI announces it");
  await Promise.all([cli.feed(data), writeAll(server, encoder.encode("ok"))]);
  server.closeWrite();
  assertEquals(await readToEnd(server), data);
  const result = await cli.result();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(decoder.decode(result.stdout), "ok");
  assert(!result.stderr.includes("confirmed"), result.stderr);
});

Deno.test("cli: a wrong code and a client without one are turned away and reported as they happen; the right code then gets through", async () => {
  const listener = spawnCli(
    ["listen", "--host", "127.0.0.1", "--code", "--json"],
    { stdin: "piped" },
  );
  await using _listener = listener;
  const port = Number(
    (await listener.waitForStderr(/"event":"listening".*"port":(\d+)/))[1],
  );
  const code = (await listener.waitForStderr(/"code":"([^"]+)"/))[1];
  const [number, ...words] = code.split("-");
  const wrongCode = [
    number,
    ...words.slice(0, 3),
    words[3] === "zone" ? "zoom" : "zone",
  ]
    .join("-");
  const wrong = await runCli(
    ["connect", "127.0.0.1", String(port), "--code", wrongCode],
    { stdin: "piped" },
  );
  assertEquals(wrong.code, 1, wrong.stderr);
  // The warning that the code is in argv, then the one error line.
  assertEquals(lines(wrong.stderr).length, 2, wrong.stderr);
  assertStringIncludes(wrong.stderr, "other local users can read it");
  assertStringIncludes(wrong.stderr, "it holds another code or secret");
  assertEquals(wrong.stdout.length, 0);
  const [rejected] = await listener.waitForStderr(
    /\{"event":"rejected","peer":"127\.0\.0\.1:\d+","reason":"[^"]*does not hold the same code[^"]*"\}\n/,
  );
  // The report names neither code.
  for (const secret of [code, wrongCode]) {
    assert(!rejected.includes(secret), rejected);
  }
  // A client without the code is told what the listener expects: the
  // listener's notice, which the CLI recognises (never written as data).
  await using intruder = spawnCli(["connect", "127.0.0.1", String(port)], {
    stdin: "piped",
  });
  await intruder.feed(encoder.encode("intruder without a code"));
  const none = await intruder.result();
  assertEquals(none.code, 1, none.stderr);
  assertStringIncludes(none.stderr, "expects a code: add --code");
  assertEquals(none.stdout.length, 0);
  await listener.waitForStderr(/"event":"rejected".*\n.*"event":"rejected"/);
  await using connector = spawnCli(
    ["connect", "127.0.0.1", String(port), "--code", code],
    { stdin: "piped" },
  );
  await Promise.all([
    connector.feed(encoder.encode("it is me")),
    listener.feed(new Uint8Array(0)),
  ]);
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals([listened.code, connected.code], [0, 0], listened.stderr);
  assertEquals(decoder.decode(listened.stdout), "it is me");
});

Deno.test("cli: --secret-file and --secret-env, with --permissions naming the file and the variable", async () => {
  await using dir = await tempDir();
  const secretFile = `${dir}/secret`;
  await Deno.writeTextFile(secretFile, "x\n");
  const listenArgs = [
    "listen",
    "--host",
    "127.0.0.1",
    "--secret-file",
    secretFile,
  ];
  const printed = await runCli([...listenArgs, "--permissions"], {
    permissions: [],
  });
  assertEquals(
    decoder.decode(printed.stdout),
    `--allow-net=127.0.0.1:0 --allow-read=${secretFile}\n`,
  );
  const listener = spawnCli(listenArgs, {
    permissions: decoder.decode(printed.stdout).trim().split(" "),
  });
  await using _listener = listener;
  const port = (await listener.waitForStderr(/listening on .*:(\d+)\n/))[1];
  const connectArgs = ["connect", "127.0.0.1", port, "--secret-env", "MY_CODE"];
  const printedConnect = await runCli([...connectArgs, "--permissions"], {
    permissions: [],
  });
  assertEquals(
    decoder.decode(printedConnect.stdout),
    `--allow-net=127.0.0.1:${port} --allow-env=MY_CODE\n`,
  );
  await using connector = spawnCli(connectArgs, {
    permissions: decoder.decode(printedConnect.stdout).trim().split(" "),
    env: { MY_CODE: "x" },
    stdin: "piped",
  });
  await connector.feed(encoder.encode("one-character secret"));
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals([listened.code, connected.code], [0, 0], connected.stderr);
  assertEquals(decoder.decode(listened.stdout), "one-character secret");
});

Deno.test("cli: a secret asked for that cannot be read exits 3 naming the flag, before the network", async () => {
  await using dir = await tempDir();
  const cases: [string[], string[] | undefined, string][] = [
    [
      ["--secret-file", `${dir}/missing`],
      undefined,
      `--secret-file ${dir}/missing: the secret cannot be read`,
    ],
    [["--secret-file", "/dev/zero"], undefined, "larger than 4096 bytes"],
    [
      ["--secret-file", `${dir}/x`],
      ["--allow-net=127.0.0.1:0"],
      `--allow-read=${dir}/x`,
    ],
    [
      ["--secret-env", "UNSET_CODE_VARIABLE"],
      undefined,
      "--secret-env UNSET_CODE_VARIABLE: the secret cannot be read",
    ],
    [
      ["--secret-env", "MY_CODE"],
      ["--allow-net=127.0.0.1:0"],
      "--allow-env=MY_CODE",
    ],
  ];
  for (const [flags, permissions, expected] of cases) {
    const result = await runCli(["listen", "--host", "127.0.0.1", ...flags], {
      permissions,
      env: { MY_CODE: "x" },
    });
    assertEquals(result.code, 3, result.stderr);
    assertEquals(lines(result.stderr).length, 1, result.stderr);
    assertStringIncludes(result.stderr, expected);
    assert(!result.stderr.includes("listening"), result.stderr);
  }
});

Deno.test("cli: TRANSFER_SECRET in the environment is not read: no secret is checked unless a flag asks for one", async () => {
  const { process: listener, port } = await startListener(
    ["--host", "127.0.0.1"],
    {
      permissions: ["--allow-net=127.0.0.1:0"],
      env: { TRANSFER_SECRET: "0123456789abcdef0123456789abcdef" },
    },
  );
  await using _listener = listener;
  await using connector = spawnCli(["connect", "127.0.0.1", String(port)], {
    stdin: "piped",
  });
  await connector.feed(encoder.encode("plain"));
  const [listened, connected] = await Promise.all([
    listener.result(),
    connector.result(),
  ]);
  assertEquals([listened.code, connected.code], [0, 0], listened.stderr);
  assertEquals(decoder.decode(listened.stdout), "plain");
});

Deno.test("cli: --send-only discards the peer's bytes and --recv-only sends nothing", async () => {
  {
    const { process: listener, port } = await startListener(
      ["--host", "127.0.0.1"],
      { stdin: "piped" },
    );
    await using _listener = listener;
    await using connector = spawnCli(
      ["connect", "127.0.0.1", String(port), "--send-only"],
      { stdin: "piped" },
    );
    await Promise.all([
      connector.feed(encoder.encode("upload")),
      listener.feed(encoder.encode("reply nobody wants")),
    ]);
    const [listened, connected] = await Promise.all([
      listener.result(),
      connector.result(),
    ]);
    assertEquals([listened.code, connected.code], [0, 0], connected.stderr);
    assertEquals(decoder.decode(listened.stdout), "upload");
    assertEquals(connected.stdout.length, 0);
  }
  {
    const { process: listener, port } = await startListener(
      ["--host", "127.0.0.1", "--recv-only"],
      { stdin: "piped" },
    );
    await using _listener = listener;
    await listener.feed(encoder.encode("never sent"));
    await using connector = spawnCli(["connect", "127.0.0.1", String(port)], {
      stdin: "piped",
    });
    await connector.feed(encoder.encode("download"));
    const [listened, connected] = await Promise.all([
      listener.result(),
      connector.result(),
    ]);
    assertEquals([listened.code, connected.code], [0, 0], connected.stderr);
    assertEquals(decoder.decode(listened.stdout), "download");
    assertEquals(connected.stdout.length, 0);
  }
});

Deno.test("cli: a --send file that does not exist exits 1 before the network", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = server.accept().then((conn) => {
    conn.close();
    return true;
  }, () => false);
  const result = await runCli([
    "connect",
    "127.0.0.1",
    String(server.addr.port),
    "--send",
    "/nonexistent/connect-cli-input",
  ]);
  server.close();
  assertEquals(result.code, 1);
  assertEquals(
    result.stderr,
    'connect: Cannot read --send file "/nonexistent/connect-cli-input": no such file\n',
  );
  assertEquals(await accepted, false, "nobody connected");
});

// --- the copy loop in-process ------------------------------------------------

Deno.test("pump() hands bytes to an idle writer at once, so interactive peers never stall", async () => {
  const written: number[] = [];
  let wroteFirst!: () => void;
  const firstWrite = new Promise<void>((resolve) => wroteFirst = resolve);
  let reads = 0;
  const source = {
    read(buffer: Uint8Array): Promise<number | null> {
      if (reads++ === 0) {
        buffer.set([1, 2, 3]);
        return Promise.resolve(3);
      }
      return new Promise<never>(() => {}); // the peer waits for our answer
    },
  };
  const sink = {
    write(buffer: Uint8Array): Promise<number> {
      written.push(...buffer);
      wroteFirst();
      return Promise.resolve(buffer.length);
    },
  };
  const stop = new AbortController();
  const copying = pump(source, sink, { stopReading: stop.signal });
  await firstWrite;
  assertEquals(written, [1, 2, 3]);
  stop.abort();
  assertEquals(await copying, 3);
});

Deno.test("pump() gathers many small reads into few writes while the writer is busy", async () => {
  const data = randomBytes(64 * 16384);
  let offset = 0;
  const source = {
    read(buffer: Uint8Array): Promise<number | null> {
      if (offset === data.length) return Promise.resolve(null);
      const count = Math.min(16384, buffer.length, data.length - offset);
      buffer.set(data.subarray(offset, offset + count));
      offset += count;
      return Promise.resolve(count); // one TLS record per read
    },
  };
  const writes: Uint8Array[] = [];
  const sink = {
    async write(buffer: Uint8Array): Promise<number> {
      writes.push(buffer.slice());
      await new Promise((resolve) => setTimeout(resolve, 5)); // a slow output
      return buffer.length;
    },
  };
  assertEquals(await pump(source, sink), data.length);
  const joined = new Uint8Array(data.length);
  let position = 0;
  for (const chunk of writes) {
    joined.set(chunk, position);
    position += chunk.length;
  }
  assertEquals(position, data.length);
  assertEquals(await sha256(joined), await sha256(data));
  assert(writes.length < 16, `64 reads became ${writes.length} writes`);
});

for (const blocking of [false, true]) {
  Deno.test(`pump() reports which side failed and how much was written${blocking ? " (blocking source: the plain loop)" : ""}`, async () => {
    let reads = 0;
    const source = {
      blocking,
      read(buffer: Uint8Array): Promise<number | null> {
        if (reads++ < 2) {
          buffer.fill(7, 0, 10);
          return Promise.resolve(10);
        }
        return Promise.reject(new Deno.errors.ConnectionReset("reset"));
      },
    };
    let written = 0;
    const sink = {
      write(buffer: Uint8Array): Promise<number> {
        written += buffer.length;
        return Promise.resolve(buffer.length);
      },
    };
    const error = await pump(source, sink).then(() => undefined, (e) => e);
    assertInstanceOf(error, PumpError);
    assertEquals(error.side, "read");
    assertInstanceOf(error.cause, Deno.errors.ConnectionReset);
    const failing = {
      write(): Promise<number> {
        return Promise.reject(new Deno.errors.BrokenPipe("closed"));
      },
    };
    reads = 0;
    const writeError = await pump(source, failing).then(
      () => undefined,
      (e) => e,
    );
    assertInstanceOf(writeError, PumpError);
    assertEquals([writeError.side, writeError.bytes], ["write", 0]);
    assertGreater(written, 0);
    if (blocking) {
      // In turns: both chunks were written before the failing read.
      assertEquals([written, error.bytes], [20, 20]);
    }
  });
}

// --- issue 13: checks before the network, messages ---------------------------

Deno.test("cli: --send DIRECTORY fails before the network and leaves the listener's slot alone", async () => {
  await using dir = await tempDir();
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = server.accept().then((conn) => {
    conn.close();
    return true;
  }, () => false);
  const result = await runCli([
    "connect",
    "127.0.0.1",
    String(server.addr.port),
    "--send",
    dir,
  ]);
  server.close();
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "is a directory");
  assertEquals(await accepted, false, "nobody connected");
});

Deno.test("cli: --send f --recv ./f is refused before anything is touched (same file by device and inode)", async () => {
  await using dir = await tempDir();
  const data = randomBytes(1000);
  await Deno.writeFile(`${dir}/f`, data);
  const result = await runCli([
    "listen",
    "--host",
    "127.0.0.1",
    "--send",
    `${dir}/f`,
    "--recv",
    `${dir}/./f`,
    "--force",
  ]);
  assertEquals(result.code, 2, result.stderr);
  assertStringIncludes(result.stderr, "are the same file");
  assert(!result.stderr.includes("listening"));
  assertEquals(await Deno.readFile(`${dir}/f`), data, "not truncated");
});

Deno.test("cli: every missing permission (net, read, write) is named in one error", async () => {
  const port = freePort();
  const result = await runCli(
    [
      "connect",
      "127.0.0.1",
      String(port),
      "--send",
      "/etc/hostname",
      "--recv",
      "/tmp/connect-cli-denied-out",
    ],
    { permissions: [] },
  );
  assertEquals(result.code, 3, result.stderr);
  assertEquals(lines(result.stderr).length, 1, result.stderr);
  for (
    const flag of [
      `--allow-net=127.0.0.1:${port}`,
      "--allow-read=/etc/hostname",
      "--allow-write=/tmp/connect-cli-denied-out",
    ]
  ) assertStringIncludes(result.stderr, flag);
});

Deno.test("cli: a TLS failure names --ca, never the library's tls.caCerts", async () => {
  const { process: listener, port } = await startListener([
    "--host",
    "127.0.0.1",
    ...TLS_LISTEN,
  ]);
  await using _listener = listener;
  const result = await runCli(["connect", "127.0.0.1", String(port), "--tls"]);
  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "--ca FILE");
  assert(!result.stderr.includes("tls.caCerts"), result.stderr);
});

Deno.test("cli: --no-half-close and --confirm parse; --no-half-close with --recv-only is a usage error", () => {
  const options = parseCliArgs([
    "connect",
    "h",
    "1",
    "--no-half-close",
    "--confirm",
  ]);
  assertEquals([options.halfClose, options.confirm], [false, true]);
  assertInstanceOf(
    (() => {
      try {
        parseCliArgs(["listen", "--recv-only", "--no-half-close"]);
      } catch (error) {
        return error;
      }
    })(),
    UsageError,
  );
});
