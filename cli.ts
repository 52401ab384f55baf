/**
 * The `connect` command-line tool: a netcat-grade transfer tool on top of the
 * {@linkcode Connector}, with honest exit codes, half-close, TLS, peer
 * authentication and a progress line.
 *
 * ```sh
 * deno run -N -W=backup.tar jsr:@transfer/connect/cli listen 9000 --recv backup.tar
 * deno run -N -R=backup.tar jsr:@transfer/connect/cli connect host 9000 --send backup.tar
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
// Nothing but the version is imported here: the argument parser loads for
// any command line other than a lone --version, and the connector (with TLS,
// the PAKE and @std/net), the copy machinery and the progress line once a
// command needs them, so that --version starts as fast as an empty
// `deno run` and --help nearly so.
import type {
  Connector,
  ConnectorOptions,
  ConnectorPermission,
} from "./mod.ts";
import type { CliOptions } from "./cli/args.ts";
import type { ByteSink, ByteSource } from "./cli/copy.ts";
import type { Reporter } from "./cli/events.ts";
import type { PreparedFiles } from "./cli/preflight.ts";

/** The argument parser and the CLI's wording of messages. */
type ParseModules = typeof import("./cli/_parse_modules.ts");

/** The modules a command that connects uses, the parser's included. */
type RunModules = typeof import("./cli/_run_modules.ts");

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

function exitCodeOf(error: unknown, modules: RunModules): number {
  if (
    error instanceof modules.args.UsageError || error instanceof RangeError
  ) {
    return ExitCode.Usage;
  }
  // A secret that was asked for and cannot be read: never a warning.
  if (error instanceof modules.code.SecretUnreadableError) {
    return ExitCode.Permission;
  }
  if (error instanceof Deno.errors.NotCapable) return ExitCode.Permission;
  if (error instanceof modules.prompt.PromptInterrupted) return 130;
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
  // A lone --version, as the parser would answer it, before it is loaded.
  if (args.length === 1 && args[0] === "--version") {
    writeStdout(`connect ${VERSION}\n`);
    return ExitCode.Success;
  }
  // A command line without --help, -h or --version connects: its modules load
  // with the parser, in one pass (if it then fails to parse, they were loaded
  // for nothing, as the message's module would be anyway).
  const running: Promise<RunModules> | undefined =
    args.some((arg) => arg === "--help" || arg === "-h" || arg === "--version")
      ? undefined
      : import("./cli/_run_modules.ts");
  const parse: ParseModules = await (running ??
    import("./cli/_parse_modules.ts"));
  const { UsageError } = parse.args;
  try {
    options = parse.args.parseCliArgs(args);
    if (options.command === "help" || options.command === "version") {
      writeStdout(
        options.command === "help" ? parse.args.HELP : `connect ${VERSION}\n`,
      );
      await running?.catch(() => {}); // -h in a group such as -qh
      return ExitCode.Success;
    }
    if (
      options.secret === "prompt-code" && !options.permissions &&
      !Deno.stdin.isTerminal()
    ) {
      throw new UsageError(
        "connect --code without a value asks for the code on the terminal, and stdin is not one: in scripts give the secret with --secret-env NAME or --secret-file FILE",
      );
    }
    modules = await (running ?? import("./cli/_run_modules.ts"));
    if (options.secret === "new-code") {
      const relay = options.connector.relay;
      code = modules.code.makeCode({ relay: relay !== undefined });
      options.connector.secret = code;
      // The code's number is the public channel at the relay.
      if (relay !== undefined) relay.channel = code.split("-")[0];
    }
    if (options.command === "listen") {
      const relayed = options.connector.relay !== undefined;
      options.connector.onRejectedPeer = (peer) =>
        reportRejected(
          relayed
            ? `a peer through the relay at ${peer.address}`
            : peer.address,
          peer.reason,
        );
    }
    try {
      // The code asked for on the terminal comes in run(); till then, no
      // secret (and so no confirmation to announce).
      connector = new modules.library.Connector(
        options.secret === "prompt-code"
          ? withoutTypedCode(options.connector)
          : options.connector,
      );
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) {
        throw new UsageError(modules.messages.inCliTerms(error), {
          cause: error,
        });
      }
      throw error;
    }
  } catch (caught) {
    await running?.catch(() => {}); // nothing left loading after the answer
    if (!(caught instanceof UsageError)) throw caught;
    const error = caught;
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
  if (options.proxyPasswordEnv !== undefined) {
    descriptors.push({ name: "env", variable: options.proxyPasswordEnv });
  }
  return descriptors;
}

/** The target and the proxy a connection goes through, for messages. */
function proxiedPeer(
  options: CliOptions,
  { formatHostPort, proxyTransport }: RunModules["library"],
): string {
  const { host, port, proxy } = options.connector;
  return `${formatHostPort(host!, port!)} via the proxy ${
    proxyTransport(proxy!).endpoint
  }`;
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
  let watchFirstBytes:
    | InstanceType<RunModules["wrongPeer"]["WrongPeerWatch"]>
    | undefined;
  try {
    preflight.checkPermissions(runPermissions(options, connector));
    if (options.secret === "code") {
      reporter.warning(
        "the code is on the command line, where other local users can read it (ps, /proc); give --code alone to type it at the prompt, or --secret-file or --secret-env in scripts",
      );
    }
    let setup = options.connector;
    if (options.proxyPasswordEnv !== undefined) {
      setup = modules.code.readProxyPassword(setup, options.proxyPasswordEnv);
    }
    if (options.secret === "file" || options.secret === "env") {
      // Read now, so that a secret that cannot be read names its flag.
      setup = await modules.code.readSecretFlag(setup, options.secretFlag);
    }
    if (setup !== options.connector) connector = new library.Connector(setup);
    files = await preflight.prepareFiles(
      options.send,
      options.recv,
      options.force,
    );
    if (options.secret === "prompt-code") {
      // After every check that could still fail: nobody types a code in vain.
      const typed = await modules.prompt.promptForCode();
      // A relay's channel is the typed code's number.
      modules.args.checkRelayCode(setup, "code", typed);
      connector = new library.Connector({ ...setup, secret: typed });
    }
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
      const relay = options.connector.relay;
      reporter.listening(
        relay === undefined
          ? library.formatAddr(addr)
          : `channel ${relay.channel} through the relay at ${
            library.formatAddr(addr)
          }`,
        addr.transport === "tcp" && relay === undefined ? addr.port : undefined,
      );
      if (pairingCode !== undefined) {
        const { counterpartOf } = await import("./cli/counterpart.ts");
        reporter.code(
          pairingCode,
          counterpartOf(
            addr,
            options.connector.tls !== undefined,
            options.connector.relay,
          ),
        );
      }
    }
    conn = await modules.internal.raceAbort(connector.connect(), stopped);
    if (stopped.aborted) throw stopped.reason;
    const peer = options.connector.proxy !== undefined
      ? proxiedPeer(options, library)
      : options.connector.relay === undefined
      ? library.formatAddr(conn.remoteAddr)
      : `the peer through the relay at ${library.formatAddr(conn.remoteAddr)}`;
    const tls = options.connector.tls !== undefined;
    if (!tls && options.secret === undefined) {
      // A plain side: a TLS peer or a code listener shows in its first bytes.
      watchFirstBytes = new modules.wrongPeer.WrongPeerWatch(conn, peer);
    }
    const stream = watchFirstBytes?.conn ?? conn;
    reporter.connected(
      library.formatAddr(conn.localAddr),
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
        stream,
        connector.mode === "passive" ? "passive" : "active",
        peer,
        options.connector.timeout ?? CONFIRM_WAIT,
      );
      const result = await confirmedTransfer(stream, {
        ...transferOptions,
        sync: output === undefined ? undefined : () => syncFile(output),
      });
      await reporter.done({ peer, ...result });
    } else {
      await copy.transfer(stream, transferOptions);
      await reporter.done();
    }
    return ExitCode.Success;
  } catch (error) {
    abort = error instanceof copy.TransferError && error.abort;
    const interrupt = watch.interrupt;
    const code = interrupt?.exitCode ?? exitCodeOf(error, modules);
    let message = modules.messages.inCliTerms(error);
    const mistake = watchFirstBytes?.mistake;
    if (mistake !== undefined && interrupt === undefined) {
      message = mistake.message;
    } else if (
      watchFirstBytes !== undefined && connector.mode === "active" &&
      reporter.received === 0 && hasCause(error, Deno.errors.ConnectionReset)
    ) {
      message += "; if it is a TLS listener, add --tls";
    }
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
    if (error instanceof Deno.errors.NotCapable) {
      message +=
        " (for an installed connect: reinstall it with deno install -g -f and these flags added)";
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

/** Whether `error` or one of its causes is an instance of `type`. */
function hasCause(
  error: unknown,
  type: abstract new (...args: never[]) => Error,
): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    if (current instanceof type) return true;
    current = (current as Error).cause;
  }
  return false;
}

/**
 * The connector's options before the code is typed: no secret yet (and so no
 * confirmation to announce); a relay, which needs one, gets a stand-in with
 * the same permissions until the typed code replaces it.
 */
function withoutTypedCode(options: ConnectorOptions): ConnectorOptions {
  if (options.relay === undefined) {
    return { ...options, confirmDelivery: undefined };
  }
  return {
    ...options,
    secret: "(typed at the prompt)",
    relay: { ...options.relay, channel: "0000" },
  };
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
