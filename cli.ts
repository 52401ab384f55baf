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
 * stream ended cleanly (with `--confirm` on both sides: when the peer
 * confirmed writing them, by count and SHA-256); 1 on a network, TLS or I/O
 * failure, including a truncated transfer; 2 on a usage error; 3 on missing
 * permissions; 129/130/143 when stopped by SIGHUP/SIGINT/SIGTERM. Run it
 * with `--help` for every option, and with `--permissions` to print the exact
 * `deno run` flags an invocation needs. Importing this module runs nothing.
 *
 * @module
 */
import denoConfig from "./deno.json" with { type: "json" };
// Only what parsing the command line needs is imported here: the connector
// (with TLS, the PAKE and @std/net), the copy machinery and the progress line
// are loaded once a command needs them, so that --help and --version start
// as fast as an empty `deno run`.
import type { Connector, ConnectorPermission } from "./mod.ts";
import { type CliOptions, HELP, parseCliArgs, UsageError } from "./cli/args.ts";
import type { ByteSink, ByteSource } from "./cli/copy.ts";
import type { Reporter } from "./cli/events.ts";
import type { PreparedFiles } from "./cli/preflight.ts";
import { inCliTerms } from "./cli/messages.ts";

/** The modules a command that connects uses (see the imports above). */
interface RunModules {
  library: typeof import("./mod.ts");
  code: typeof import("./cli/code.ts");
  copy: typeof import("./cli/copy.ts");
  events: typeof import("./cli/events.ts");
  preflight: typeof import("./cli/preflight.ts");
  signals: typeof import("./cli/signals.ts");
  unixSocket: typeof import("./cli/unix_socket.ts");
}

async function loadRunModules(): Promise<RunModules> {
  const [library, code, copy, events, preflight, signals, unixSocket] =
    await Promise.all([
      import("./mod.ts"),
      import("./cli/code.ts"),
      import("./cli/copy.ts"),
      import("./cli/events.ts"),
      import("./cli/preflight.ts"),
      import("./cli/signals.ts"),
      import("./cli/unix_socket.ts"),
    ]);
  return { library, code, copy, events, preflight, signals, unixSocket };
}

/** How long `--confirm` waits for the peer's answer to its request, without --timeout. */
const CONFIRM_WAIT = 10_000;

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
  { Connector, permissionFlags }: RunModules["library"],
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
function describeAddr(
  addr: Deno.Addr,
  { formatAddr, formatHostPort }: RunModules["library"],
): string {
  const fields = addr as Partial<Deno.NetAddr>;
  if (
    addr.transport === undefined && typeof fields.hostname === "string" &&
    typeof fields.port === "number"
  ) {
    return formatHostPort(fields.hostname, fields.port);
  }
  return formatAddr(addr);
}

function exitCodeOf(error: unknown, modules: RunModules): number {
  if (error instanceof UsageError || error instanceof RangeError) {
    return ExitCode.Usage;
  }
  // A secret that was asked for and cannot be read: never a warning.
  if (error instanceof modules.code.SecretUnreadableError) {
    return ExitCode.Permission;
  }
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

/** A file read or written with `readSync`/`writeSync` (see where it is used). */
function blockingFile(file: Deno.FsFile): ByteSource & ByteSink {
  return {
    blocking: true,
    read(buffer: Uint8Array): Promise<number | null> {
      try {
        return Promise.resolve(file.readSync(buffer));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    write(buffer: Uint8Array): Promise<number> {
      try {
        return Promise.resolve(file.writeSync(buffer));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
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
  let modules: RunModules;
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
    modules = await loadRunModules();
    if (options.secret === "new-code") {
      code = modules.code.makeCode();
      options.connector.secret = code;
    }
    if (options.command === "listen") {
      options.connector.onRejectedPeer = (peer) =>
        reportRejected(peer.address, peer.reason);
    }
    try {
      connector = new modules.library.Connector(options.connector);
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) {
        throw new UsageError(error.message, { cause: error });
      }
      throw error;
    }
  } catch (caught) {
    if (!(caught instanceof UsageError)) throw caught;
    const error = new UsageError(inCliTerms(caught.message), { cause: caught });
    const { writeStderrLine } = await import("./cli/events.ts");
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
    const descriptors = runPermissions(options, connector);
    if (
      connector.mode === "passive" && options.connector.path !== undefined &&
      Deno.build.os === "linux"
    ) {
      // To tell a stale socket file from a live one (see cli/unix_socket.ts).
      descriptors.push({
        name: "read",
        path: modules.unixSocket.UNIX_SOCKET_TABLE,
      });
    }
    writeStdout(modules.library.formatPermissionFlags(descriptors) + "\n");
    return ExitCode.Success;
  }

  const reporter = new modules.events.Reporter({
    json: options.json,
    quiet: options.quiet,
    progress: options.progress === "always" ||
      (options.progress === "auto" && !options.json &&
        Deno.stderr.isTerminal()),
  });
  reportRejected = (peer, reason) => reporter.rejected(peer, reason);
  return await run(options, modules, connector, reporter, code);
}

/** The permissions a run needs: the connector's and the files'. */
function runPermissions(
  options: CliOptions,
  connector: Connector,
): ConnectorPermission[] {
  const descriptors: ConnectorPermission[] = [...connector.permissions];
  if (options.send !== undefined) {
    descriptors.push({ name: "read", path: options.send });
  }
  if (options.recv !== undefined) {
    descriptors.push({ name: "write", path: options.recv });
  }
  return descriptors;
}

/** Sets up the connection and moves the data; resolves the exit code. */
async function run(
  options: CliOptions,
  modules: RunModules,
  connector: Connector,
  reporter: Reporter,
  pairingCode: string | undefined,
): Promise<number> {
  const { library, preflight, copy } = modules;
  using watch = new modules.signals.SignalWatch();
  const stopped = watch.signal;
  stopped.addEventListener("abort", () => connector.close(), { once: true });
  let files: PreparedFiles | undefined;
  let conn: Deno.Conn | undefined;
  let abort = false;
  let bound: string | undefined;
  try {
    preflight.checkPermissions(runPermissions(options, connector));
    if (options.secret === "file" || options.secret === "env") {
      // Read now, so that a secret that cannot be read names its flag.
      connector = new library.Connector(
        await modules.code.readSecretFlag(
          options.connector,
          options.secretFlag,
        ),
      );
    }
    files = await preflight.prepareFiles(options.send, options.recv);
    if (stopped.aborted) throw stopped.reason;
    if (connector.mode === "passive") {
      const path = options.connector.path;
      if (
        path !== undefined &&
        await modules.unixSocket.clearStaleSocket(path) !== "absent"
      ) {
        reporter.note(
          `replaced the stale socket file "${path}" (no process listened on it)`,
        );
      }
      const addr = await connector.listen();
      if (addr.transport === "unix") bound = addr.path;
      reporter.listening(
        library.formatAddr(addr),
        addr.transport === "tcp" ? addr.port : undefined,
      );
      if (pairingCode !== undefined) {
        reporter.code(
          pairingCode,
          counterpartCommand(options, addr, pairingCode, library),
        );
      }
    }
    conn = await raceSignal(connector.connect(), stopped);
    if (stopped.aborted) throw stopped.reason;
    const peer = describeAddr(conn.remoteAddr, library);
    const tls = options.connector.tls !== undefined;
    reporter.connected(
      describeAddr(conn.localAddr, library),
      peer,
      tls,
      // The handshake is complete: this returns its result at once.
      tls ? (await (conn as Deno.TlsConn).handshake()).alpnProtocol : null,
    );
    await files.truncateOutput();
    const { input, output } = files;
    // One-way transfers through pipes or files use blocking stdio: Deno's
    // async stdin/stdout costs a thread hop per call, and nothing else needs
    // the event loop while a one-way copy waits on its input.
    // So do one-way copies from or into a file that is not a terminal (every
    // async file call is a thread hop too), by the same rule as stdio.
    const source: ByteSource | undefined = options.recvOnly
      ? undefined
      : input !== undefined
      ? (options.sendOnly && !input.isTerminal() ? blockingFile(input) : input)
      : (options.sendOnly && !Deno.stdin.isTerminal()
        ? blockingStdin
        : Deno.stdin);
    const sink: ByteSink | undefined = options.sendOnly
      ? undefined
      : output !== undefined
      ? (options.recvOnly && !output.isTerminal()
        ? blockingFile(output)
        : output)
      : (options.recvOnly && !Deno.stdout.isTerminal()
        ? blockingStdout
        : Deno.stdout);
    const interactiveInput = source === Deno.stdin && Deno.stdin.isTerminal();
    reporter.start(files.expected);
    const transferOptions = {
      input: source,
      output: sink,
      interactiveInput,
      // stdin at its end from the start (</dev/null) half-closes at once
      // (an empty request: two runs with nothing to send finish), except in
      // a receiver into a file (--recv FILE): it ends its side only after
      // the peer's, so that a failed write can still reset the connection.
      halfClose: options.halfClose,
      holdEmptyInput: input === undefined && !interactiveInput &&
        options.recv !== undefined,
      signal: stopped,
      onSent: (bytes: number) => reporter.addSent(bytes),
      onReceived: (bytes: number) => reporter.addReceived(bytes),
      names: {
        input: options.send === undefined ? "stdin" : `"${options.send}"`,
        output: options.recv === undefined ? "stdout" : `"${options.recv}"`,
        peer,
      },
    };
    if (options.confirm || connector.peerConfirmsDelivery) {
      const { confirmedTransfer, negotiateConfirm } = await import(
        "./cli/confirm.ts"
      );
      await negotiateConfirm(
        conn,
        connector.mode === "passive" ? "passive" : "active",
        peer,
        options.connector.timeout ?? CONFIRM_WAIT,
      );
      const result = await confirmedTransfer(conn, {
        ...transferOptions,
        sync: output === undefined ? undefined : () => syncFile(output),
        // Authenticated records vouch for every byte: the count suffices.
        digest: !(conn instanceof library.EncryptedConn),
      });
      await reporter.done({ peer, ...result });
    } else {
      await copy.transfer(conn, transferOptions);
      await reporter.done();
    }
    return ExitCode.Success;
  } catch (error) {
    abort = error instanceof copy.TransferError && error.abort;
    const interrupt = watch.interrupt;
    const code = interrupt?.exitCode ?? exitCodeOf(error, modules);
    let message = inCliTerms(
      error instanceof Error ? error.message : String(error),
    );
    if (interrupt !== undefined) {
      message = `${interrupt.message}${
        conn === undefined ? " before a peer connected" : ""
      }: sent ${reporter.sent} bytes, received ${reporter.received} bytes${
        reporter.received > 0
          ? ` (all written to ${
            options.recv === undefined ? "stdout" : `"${options.recv}"`
          })`
          : ""
      }`;
    }
    const turnedAway = connector.rejectedPeers;
    if (conn === undefined && turnedAway > 0 && interrupt === undefined) {
      message += ` (${turnedAway} peer${
        turnedAway === 1 ? " was" : "s were"
      } turned away: not allowed, or failed the TLS handshake or the code/secret)`;
    }
    if (conn !== undefined) files?.keepOutput();
    await reporter.error(
      message,
      code,
      options.debug ? stackOf(error) : undefined,
      interrupt?.signalName,
    );
    return code;
  } finally {
    await reporter.stop();
    connector.close();
    if (bound !== undefined) await removeSocketFile(bound);
    if (!abort) {
      try {
        conn?.close();
      } catch {
        // Already closed.
      }
    }
    // An aborted connection is left open: the process exit closes it without
    // a FIN of ours or TLS close_notify (with unread data: a reset), so the
    // peer cannot take the failure for the end of a complete transfer.
    await files?.[Symbol.asyncDispose]();
  }
}

/**
 * Removes the socket file this run bound. Deno unlinks it when the listener
 * resource is dropped, which a pending accept can delay past the exit; the
 * file cannot be anyone else's while it exists (bind refuses an existing
 * path).
 */
async function removeSocketFile(path: string): Promise<void> {
  try {
    if ((await Deno.lstat(path)).isSocket) await Deno.remove(path);
  } catch {
    // Already removed.
  }
}

/** Syncs a `--recv` file to disk; a device (/dev/null) has nothing to sync. */
async function syncFile(file: Deno.FsFile): Promise<void> {
  try {
    await file.sync();
  } catch (error) {
    if ((error as { code?: string }).code !== "EINVAL") throw error;
  }
}

/** Rejects with the signal's reason when it aborts first. */
function raceSignal<T>(task: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    task.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
