/**
 * The `connect` command-line tool: a netcat-grade transfer tool on top of the
 * {@linkcode Connector}, with honest exit codes, half-close, TLS, peer
 * authentication and a progress line.
 *
 * ```sh
 * deno run -N jsr:@transfer/connect/cli listen 9000 --recv backup.tar
 * deno run -N -R jsr:@transfer/connect/cli connect host 9000 --send backup.tar
 * ```
 *
 * Exit codes: 0 when every input byte was written to the peer and the peer's
 * stream ended cleanly; 1 on a network, TLS or I/O failure, including a
 * truncated transfer; 2 on a usage error; 3 on a missing permission. Run it
 * with `--help` for every option, and with `--permissions` to print the exact
 * `deno run` flags an invocation needs. Importing this module runs nothing.
 *
 * @module
 */
import denoConfig from "./deno.json" with { type: "json" };
import { accessFile } from "./_files.ts";
import {
  assertPermissionsGranted,
  Connector,
  type ConnectorPermission,
  formatAddr,
  formatHostPort,
  formatPermissionFlags,
  permissionFlags,
} from "./mod.ts";
import { type CliOptions, HELP, parseCliArgs, UsageError } from "./cli/args.ts";
import { makeCode, readSecretFlag, SecretUnreadableError } from "./cli/code.ts";
import { type ByteSink, type ByteSource, transfer } from "./cli/copy.ts";
import { Reporter, writeStderrLine } from "./cli/events.ts";

/** The CLI's exit codes. */
export const ExitCode: {
  readonly Success: 0;
  readonly Failure: 1;
  readonly Usage: 2;
  readonly Permission: 3;
} = {
  /** Every input byte was written and the peer's stream ended cleanly. */
  Success: 0,
  /** Network, TLS or I/O failure, including truncation and setup timeouts. */
  Failure: 1,
  /** The command line is malformed. */
  Usage: 2,
  /** A Deno permission is missing. */
  Permission: 3,
} as const;

/** The version of this package, from deno.json. */
export const VERSION: string = denoConfig.version;

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

/** How the counterpart runs this CLI: a local path or the JSR specifier. */
function moduleSpecifier(): string {
  const url = new URL(import.meta.url);
  if (url.protocol === "file:") return decodeURIComponent(url.pathname);
  const jsr = /^\/@transfer\/connect\/([^/]+)\/cli\.ts$/.exec(url.pathname);
  if (url.hostname === "jsr.io" && jsr) {
    return `jsr:@transfer/connect@${jsr[1]}/cli`;
  }
  return url.href;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word)
    ? word
    : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The exact command the counterpart of `listen --code` runs. */
function counterpartCommand(
  options: CliOptions,
  addr: Deno.Addr,
  code: string,
): string {
  const args = ["connect"];
  let connector: Connector;
  if (addr.transport === "unix") {
    args.push("--unix", addr.path);
    connector = new Connector({ path: addr.path });
  } else {
    const { hostname, port } = addr as Deno.NetAddr;
    const host = hostname === "0.0.0.0" || hostname === "::"
      ? "HOST"
      : hostname;
    args.push(host, String(port));
    connector = new Connector({ host, port });
    if (options.connector.tls !== undefined) args.push("--tls");
  }
  const flags = permissionFlags(connector.permissions);
  return ["deno", "run", ...flags, moduleSpecifier(), ...args, "--code", code]
    .map(shellQuote).join(" ");
}

/**
 * Formats a connection's address. Works around Deno 2.9.6 giving the conns of
 * `Deno.startTls` addresses without a `transport` field.
 */
function describeAddr(addr: Deno.Addr): string {
  const fields = addr as Partial<Deno.NetAddr>;
  if (
    addr.transport === undefined && typeof fields.hostname === "string" &&
    typeof fields.port === "number"
  ) {
    return formatHostPort(fields.hostname, fields.port);
  }
  return formatAddr(addr);
}

function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof RangeError) {
    return ExitCode.Usage;
  }
  // A secret that was asked for and cannot be read: never a warning.
  if (error instanceof SecretUnreadableError) return ExitCode.Permission;
  if (error instanceof Deno.errors.NotCapable) return ExitCode.Permission;
  return ExitCode.Failure;
}

function stackOf(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    lines.push(
      depth === 0
        ? String((current as Error)?.stack ?? current)
        : `caused by: ${String((current as Error)?.stack ?? current)}`,
    );
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join("\n");
}

/** stdin read with `readSync` (see where it is used). */
const blockingStdin: ByteSource = {
  blocking: true,
  read(buffer: Uint8Array): Promise<number | null> {
    try {
      return Promise.resolve(Deno.stdin.readSync(buffer));
    } catch (error) {
      return Promise.reject(error);
    }
  },
};

/** stdout written with `writeSync` (see where it is used). */
const blockingStdout: ByteSink = {
  blocking: true,
  write(buffer: Uint8Array): Promise<number> {
    try {
      return Promise.resolve(Deno.stdout.writeSync(buffer));
    } catch (error) {
      return Promise.reject(error);
    }
  },
};

function openInput(path: string): Promise<Deno.FsFile> {
  return accessFile("read", "--send file", path, () => Deno.open(path));
}

function openOutput(path: string): Promise<Deno.FsFile> {
  return accessFile(
    "write",
    "--recv file",
    path,
    () => Deno.open(path, { write: true, create: true, truncate: true }),
  );
}

/**
 * Runs the CLI with `args` and resolves the exit code; it prints to stdout
 * (data, or the text of `--help`, `--version`, `--permissions`) and stderr
 * (everything else) but never exits the process itself.
 *
 * @example Usage
 * ```ts
 * import { main } from "./cli.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(await main(["--version"]), 0);
 * ```
 *
 * @param args The command line, without the program name.
 * @returns The exit code (see {@linkcode ExitCode}).
 */
export async function main(args: readonly string[]): Promise<number> {
  let options: CliOptions;
  let connector: Connector;
  let code: string | undefined;
  // Turned-away peers go to the reporter, which exists once setup is valid.
  let reportRejected: (peer: string | undefined, reason: string) => void =
    () => {};
  try {
    options = parseCliArgs(args);
    if (options.command === "help") {
      writeStdout(HELP);
      return ExitCode.Success;
    }
    if (options.command === "version") {
      writeStdout(`connect ${VERSION}\n`);
      return ExitCode.Success;
    }
    if (options.secret === "new-code") {
      code = makeCode();
      options.connector.secret = code;
    }
    if (options.command === "listen") {
      options.connector.onRejectedPeer = (peer) =>
        reportRejected(peer.address, peer.reason);
    }
    try {
      connector = new Connector(options.connector);
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) {
        throw new UsageError(error.message, { cause: error });
      }
      throw error;
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (args.includes("--json")) {
      writeStderrLine(
        JSON.stringify({
          event: "error",
          message: `${error.message} (see connect --help)`,
          exitCode: ExitCode.Usage,
        }),
      );
      return ExitCode.Usage;
    }
    writeStderrLine(`connect: ${error.message} (see connect --help)`);
    if (args.includes("--debug")) writeStderrLine(stackOf(error));
    return ExitCode.Usage;
  }

  if (options.permissions) {
    const descriptors: ConnectorPermission[] = [...connector.permissions];
    if (options.send !== undefined) {
      descriptors.push({ name: "read", path: options.send });
    }
    if (options.recv !== undefined) {
      descriptors.push({ name: "write", path: options.recv });
    }
    writeStdout(formatPermissionFlags(descriptors) + "\n");
    return ExitCode.Success;
  }

  const reporter = new Reporter({
    json: options.json,
    quiet: options.quiet,
    progress: options.progress === "always" ||
      (options.progress === "auto" && !options.json &&
        Deno.stderr.isTerminal()),
  });
  let input: Deno.FsFile | undefined;
  let output: Deno.FsFile | undefined;
  let conn: Deno.Conn | undefined;
  reportRejected = (peer, reason) => reporter.rejected(peer, reason);
  try {
    if (options.secret === "file" || options.secret === "env") {
      // Read now, so that a secret that cannot be read names its flag.
      connector = new Connector(
        await readSecretFlag(options.connector, options.secretFlag),
      );
    }
    let expected: number | undefined;
    if (options.send !== undefined) {
      input = await openInput(options.send);
      expected = (await input.stat()).size;
    }
    if (options.recv !== undefined) {
      // Fail before the network, but create the file only once connected;
      // never a prompt, like the Connector's own check.
      assertPermissionsGranted([{ name: "write", path: options.recv }]);
    }
    if (connector.mode === "passive") {
      const addr = await connector.listen();
      reporter.listening(
        formatAddr(addr),
        addr.transport === "tcp" ? addr.port : undefined,
      );
      if (code !== undefined) {
        reporter.code(code, counterpartCommand(options, addr, code));
      }
    }
    conn = await connector.connect();
    const peer = describeAddr(conn.remoteAddr);
    const tls = options.connector.tls !== undefined;
    reporter.connected(
      describeAddr(conn.localAddr),
      peer,
      tls,
      // The handshake is complete: this returns its result at once.
      tls ? (await (conn as Deno.TlsConn).handshake()).alpnProtocol : null,
    );
    if (options.recv !== undefined) output = await openOutput(options.recv);
    // One-way transfers through pipes or files use blocking stdio: Deno's
    // async stdin/stdout costs a thread hop per call, and nothing else needs
    // the event loop while a one-way copy waits on its input.
    const source: ByteSource | undefined = options.recvOnly
      ? undefined
      : input ??
        (options.sendOnly && !Deno.stdin.isTerminal()
          ? blockingStdin
          : Deno.stdin);
    const sink: ByteSink | undefined = options.sendOnly ? undefined : output ??
      (options.recvOnly && !Deno.stdout.isTerminal()
        ? blockingStdout
        : Deno.stdout);
    reporter.start(expected);
    await transfer(conn, {
      input: source,
      output: sink,
      interactiveInput: source === Deno.stdin && Deno.stdin.isTerminal(),
      onSent: (bytes) => reporter.addSent(bytes),
      onReceived: (bytes) => reporter.addReceived(bytes),
      names: {
        input: options.send === undefined ? "stdin" : `"${options.send}"`,
        output: options.recv === undefined ? "stdout" : `"${options.recv}"`,
        peer,
      },
    });
    await reporter.done();
    return ExitCode.Success;
  } catch (error) {
    const code = exitCodeOf(error);
    let message = error instanceof Error ? error.message : String(error);
    const turnedAway = connector.rejectedPeers;
    if (conn === undefined && turnedAway > 0) {
      message += ` (${turnedAway} peer${
        turnedAway === 1 ? " was" : "s were"
      } turned away: not allowed, or failed the TLS handshake or the code/secret)`;
    }
    await reporter.error(
      message,
      code,
      options.debug ? stackOf(error) : undefined,
    );
    return code;
  } finally {
    await reporter.stop();
    connector.close();
    for (const resource of [conn, input, output]) {
      try {
        resource?.close();
      } catch {
        // Already closed.
      }
    }
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
