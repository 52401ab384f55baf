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
// Nothing is imported here (types aside): the argument parser loads for
// any command line other than a lone --version, and the connector (with TLS,
// the PAKE and @std/net), the copy machinery and the progress line once a
// command needs them. Deno still reads every module these dynamic imports
// reach before the first line runs (about 5 ms here, docs/bench.md): only
// their evaluation waits for the command line.
import type {
  Connector,
  ConnectorOptions,
  ConnectorPermission,
} from "./mod.ts";
import type { CliOptions } from "./cli/args.ts";
import type { ByteSink, ByteSource } from "./cli/copy.ts";
import type { Reporter } from "./cli/events.ts";
import type { PreparedFiles } from "./cli/preflight.ts";
import type { SignalInterrupt } from "./cli/signals.ts";
import type { WrongPeerWatch } from "./cli/wrong_peer.ts";

/** The argument parser and the CLI's wording of messages. */
type ParseModules = typeof import("./cli/_parse_modules.ts");

/** The modules a command that connects uses, the parser's included. */
type RunModules = typeof import("./cli/_run_modules.ts");

/** How long `--confirm` waits for the peer's answer to its request, without --timeout. */
const CONFIRM_WAIT = 10_000;

/** How long a connecting side waits for the listener's close after a transfer. */
const CLOSE_AFTER_PEER_WAIT = 2_000;

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

/**
 * The version of this package: deno.json's, which tests/cli_test.ts checks
 * it against. Written out rather than imported: a JSON import of deno.json
 * put one more module into every start (about 1 ms of `--version`, measured
 * in docs/bench.md).
 */
export const VERSION = "0.1.0";

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
  let command: Command | number;
  try {
    command = await parseCommand(args, parse, running);
  } catch (caught) {
    await running?.catch(() => {}); // nothing left loading after the answer
    if (!(caught instanceof parse.args.UsageError)) throw caught;
    return await reportUsageError(caught, args);
  }
  if (typeof command === "number") return command;
  const { options, modules, connector } = command;
  if (options.permissions) return printPermissions(options, modules, connector);
  const reporter = new modules.events.Reporter({
    json: options.json,
    quiet: options.quiet,
    progress: options.progress === "always" ||
      (options.progress === "auto" && !options.json &&
        Deno.stderr.isTerminal()),
  });
  command.rejected.report = (peer, reason) => reporter.rejected(peer, reason);
  return await run(options, modules, connector, reporter, command.code);
}

/** A parsed command that connects, with what it needs to run. */
interface Command {
  readonly options: CliOptions;
  readonly modules: RunModules;
  /** The connector as the command line describes it (no typed code yet). */
  readonly connector: Connector;
  /** The pairing code this run made up (`--code` with nothing after it). */
  readonly code: string | undefined;
  /** Where turned-away peers go: the reporter, once setup is valid. */
  readonly rejected: {
    report: (peer: string | undefined, reason: string) => void;
  };
}

/**
 * Parses `args` and builds the connector; resolves the exit code instead of
 * a command for `--help` and `--version`. Throws a `UsageError` for a
 * malformed command line.
 */
async function parseCommand(
  args: readonly string[],
  parse: ParseModules,
  running: Promise<RunModules> | undefined,
): Promise<Command | number> {
  const { UsageError } = parse.args;
  const options = parse.args.parseCliArgs(args);
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
  const modules = await (running ?? import("./cli/_run_modules.ts"));
  let code: string | undefined;
  if (options.secret === "new-code") {
    const relay = options.connector.relay;
    code = modules.code.makeCode({ relay: relay !== undefined });
    options.connector.secret = code;
    // The code's number is the public channel at the relay.
    if (relay !== undefined) relay.channel = code.split("-")[0];
  }
  const rejected: Command["rejected"] = { report: () => {} };
  if (options.command === "listen") {
    const relayed = options.connector.relay !== undefined;
    options.connector.onRejectedPeer = (peer) =>
      rejected.report(
        relayed ? `a peer through the relay at ${peer.address}` : peer.address,
        peer.reason,
      );
  }
  const connector = buildConnector(options, modules);
  return { options, modules, connector, code, rejected };
}

/** The connector of a parsed command line; a `UsageError` if it is invalid. */
function buildConnector(options: CliOptions, modules: RunModules): Connector {
  try {
    // The code asked for on the terminal comes in run(); till then, no
    // secret (and so no confirmation to announce).
    return new modules.library.Connector(
      options.secret === "prompt-code"
        ? withoutTypedCode(options.connector)
        : options.connector,
    );
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      throw new modules.args.UsageError(modules.messages.inCliTerms(error), {
        cause: error,
      });
    }
    throw error;
  }
}

/** Writes a usage error (as JSON with `--json`); resolves its exit code. */
async function reportUsageError(
  error: Error,
  args: readonly string[],
): Promise<number> {
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

/** `--permissions`: prints the `deno run` flags the command needs. */
function printPermissions(
  options: CliOptions,
  modules: RunModules,
  connector: Connector,
): number {
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

/** What the phases of a run share; each phase records what it set up. */
interface RunState {
  readonly options: CliOptions;
  readonly modules: RunModules;
  readonly reporter: Reporter;
  /** Aborted when SIGINT, SIGTERM or SIGHUP stops the run. */
  readonly stopped: AbortSignal;
  /** Replaced once a secret is read from its file or variable, or typed. */
  connector: Connector;
  files?: PreparedFiles;
  /** The connection to the peer, once there is one. */
  conn?: Deno.Conn;
  /** The unix socket file this run bound, removed at the end. */
  bound?: string;
  /** On a plain side: what the peer's first bytes tell about it. */
  watchFirstBytes?: WrongPeerWatch;
  /** The transfer failed so that the connection must be reset, not closed. */
  abort: boolean;
}

/**
 * Sets up the connection and moves the data, in phases (set up, connect,
 * transfer, and on failure report); resolves the exit code.
 */
async function run(
  options: CliOptions,
  modules: RunModules,
  connector: Connector,
  reporter: Reporter,
  pairingCode: string | undefined,
): Promise<number> {
  using watch = new modules.signals.SignalWatch();
  const state: RunState = {
    options,
    modules,
    reporter,
    connector,
    stopped: watch.signal,
    abort: false,
  };
  state.stopped.addEventListener("abort", () => state.connector.close(), {
    once: true,
  });
  try {
    const files = await prepare(state);
    if (state.stopped.aborted) throw state.stopped.reason;
    if (state.connector.mode === "passive") await listen(state, pairingCode);
    const { stream, peer } = await connectPeer(state);
    await transferData(state, files, stream, peer);
    await closeAfterPeer(state);
    return ExitCode.Success;
  } catch (error) {
    return await reportFailure(state, error, watch.interrupt);
  } finally {
    await cleanUp(state);
  }
}

/**
 * Set-up phase: the permissions, the secrets read from their flags, the
 * files, and last the code typed at the prompt; resolves the files.
 */
async function prepare(state: RunState): Promise<PreparedFiles> {
  const { options, modules, reporter } = state;
  modules.preflight.checkPermissions(runPermissions(options, state.connector));
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
  if (setup !== options.connector) {
    state.connector = new modules.library.Connector(setup);
  }
  const files = state.files = await modules.preflight.prepareFiles(
    options.send,
    options.recv,
    options.force,
  );
  if (options.secret === "prompt-code") {
    // After every check that could still fail: nobody types a code in vain.
    const typed = await modules.prompt.promptForCode();
    // A relay's channel is the typed code's number.
    modules.args.checkRelayCode(setup, "code", typed);
    state.connector = new modules.library.Connector({
      ...setup,
      secret: typed,
    });
  }
  return files;
}

/**
 * Connect phase of a passive side: clears a stale socket file, listens, and
 * reports the address (and the pairing code with the command that answers it).
 */
async function listen(
  state: RunState,
  pairingCode: string | undefined,
): Promise<void> {
  const { options, modules: { library, unixSocket }, reporter } = state;
  const path = options.connector.path;
  if (
    path !== undefined && await unixSocket.clearStaleSocket(path) !== "absent"
  ) {
    reporter.note(
      `replaced the stale socket file "${path}" (no process listened on it)`,
    );
  }
  const addr = await state.connector.listen();
  if (addr.transport === "unix") state.bound = addr.path;
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
      counterpartOf(addr, options.connector.tls !== undefined, relay),
    );
  }
}

/**
 * Connect phase: waits for the peer (or dials it), describes it, and on a
 * plain side watches its first bytes; resolves the stream to transfer over.
 */
async function connectPeer(
  state: RunState,
): Promise<{ stream: Deno.Conn; peer: string }> {
  const { options, modules, reporter, stopped } = state;
  const { library } = modules;
  const conn = state.conn = await modules.internal.raceAbort(
    state.connector.connect(),
    stopped,
  );
  if (stopped.aborted) throw stopped.reason;
  const peer = options.connector.proxy !== undefined
    ? proxiedPeer(options, library)
    : options.connector.relay === undefined
    ? library.formatAddr(conn.remoteAddr)
    : `the peer through the relay at ${library.formatAddr(conn.remoteAddr)}`;
  const tls = options.connector.tls !== undefined;
  if (!tls && options.secret === undefined) {
    // A plain side: a TLS peer or a code listener shows in its first bytes.
    state.watchFirstBytes = new modules.wrongPeer.WrongPeerWatch(conn, peer);
  }
  reporter.connected(
    library.formatAddr(conn.localAddr),
    peer,
    tls,
    // The handshake is complete: this returns its result at once.
    tls ? (await (conn as Deno.TlsConn).handshake()).alpnProtocol : null,
  );
  return { stream: state.watchFirstBytes?.conn ?? conn, peer };
}

/**
 * Transfer phase: moves the data between the chosen ends and the peer,
 * plainly or with `--confirm`'s count and digest, and reports it done.
 */
async function transferData(
  state: RunState,
  files: PreparedFiles,
  stream: Deno.Conn,
  peer: string,
): Promise<void> {
  const { options, modules, reporter, connector } = state;
  await files.truncateOutput();
  const { input, output } = files;
  const { source, sink, interactiveInput } = chooseEnds(options, files);
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
    signal: state.stopped,
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
      // Authenticated records vouch for every byte: the count suffices.
      digest: !(state.conn instanceof modules.library.EncryptedConn),
    });
    await reporter.done({ peer, ...result });
  } else {
    await modules.copy.transfer(stream, transferOptions);
    await reporter.done();
  }
}

/**
 * The ends of the transfer: the data's source (none with --recv-only) and
 * sink (none with --send-only), and whether the input is a person typing.
 *
 * One-way transfers through pipes or files use blocking stdio: Deno's async
 * stdin/stdout costs a thread hop per call, and nothing else needs the event
 * loop while a one-way copy waits on its input. So do one-way copies from or
 * into a file that is not a terminal (every async file call is a thread hop
 * too), by the same rule as stdio.
 */
function chooseEnds(
  options: CliOptions,
  { input, output }: PreparedFiles,
): { source?: ByteSource; sink?: ByteSink; interactiveInput: boolean } {
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
    ? (options.recvOnly && !output.isTerminal() ? blockingFile(output) : output)
    : (options.recvOnly && !Deno.stdout.isTerminal()
      ? blockingStdout
      : Deno.stdout);
  const interactiveInput = source === Deno.stdin && Deno.stdin.isTerminal();
  return { source, sink, interactiveInput };
}

/**
 * Report phase of a failed run: the message in the user's words and the exit
 * code (a signal's own, when one stopped the run); keeps a partial output.
 */
async function reportFailure(
  state: RunState,
  error: unknown,
  interrupt: SignalInterrupt | undefined,
): Promise<number> {
  const { options, modules, reporter, connector } = state;
  state.abort = error instanceof modules.copy.TransferError && error.abort;
  const code = interrupt?.exitCode ?? exitCodeOf(error, modules);
  let message = interrupt !== undefined
    ? interruptMessage(state, interrupt)
    : errorMessage(state, error);
  if (error instanceof Deno.errors.NotCapable) {
    message +=
      " (for an installed connect: reinstall it with deno install -g -f and these flags added)";
  }
  const turnedAway = connector.rejectedPeers;
  if (state.conn === undefined && turnedAway > 0 && interrupt === undefined) {
    message += ` (${turnedAway} peer${
      turnedAway === 1 ? " was" : "s were"
    } turned away: not allowed, or failed the TLS handshake or the code/secret)`;
  }
  if (state.conn !== undefined) state.files?.keepOutput();
  await reporter.error(
    message,
    code,
    options.debug ? stackOf(error) : undefined,
    interrupt?.signalName,
  );
  return code;
}

/** What a signal stopped, and how much had moved by then. */
function interruptMessage(state: RunState, interrupt: SignalInterrupt): string {
  const { options, reporter } = state;
  return `${interrupt.message}${
    state.conn === undefined ? " before a peer connected" : ""
  }: sent ${reporter.sent} bytes, received ${reporter.received} bytes${
    reporter.received > 0
      ? ` (all written to ${
        options.recv === undefined ? "stdout" : `"${options.recv}"`
      })`
      : ""
  }`;
}

/**
 * The message of an error no signal caused: the mistake the peer's first
 * bytes showed (a TLS or code peer on a plain side), else the error in CLI
 * terms, with a hint at --tls when a plain dial was reset before any data.
 */
function errorMessage(state: RunState, error: unknown): string {
  const { connector, watchFirstBytes, reporter } = state;
  const mistake = watchFirstBytes?.mistake;
  if (mistake !== undefined) return mistake.message;
  const message = state.modules.messages.inCliTerms(error);
  if (
    watchFirstBytes !== undefined && connector.mode === "active" &&
    reporter.received === 0 && hasCause(error, Deno.errors.ConnectionReset)
  ) {
    return message + "; if it is a TLS listener, add --tls";
  }
  return message;
}

/**
 * After a complete encrypted transfer the connecting side closes once the
 * listener has closed (at most {@linkcode CLOSE_AFTER_PEER_WAIT} ms): through
 * a proxy or relay that ends both directions when one side closes, closing
 * at once could cut off our end record on its way (tinyproxy dropped it,
 * under load, in 2 of 12 runs). The listener closes at once: one side waits.
 */
async function closeAfterPeer(state: RunState): Promise<void> {
  const { conn, connector, modules } = state;
  if (
    connector.mode === "active" &&
    conn instanceof modules.library.EncryptedConn
  ) {
    await conn.closeAfterPeer(CLOSE_AFTER_PEER_WAIT);
  }
}

/** Clean-up phase: the progress line, the connector, the socket file, the files. */
async function cleanUp(state: RunState): Promise<void> {
  await state.reporter.stop();
  state.connector.close();
  if (state.bound !== undefined) await removeSocketFile(state.bound);
  if (!state.abort) {
    try {
      state.conn?.close();
    } catch {
      // Already closed.
    }
  }
  // An aborted connection is left open: the process exit closes it without
  // a FIN of ours or TLS close_notify (with unread data: a reset), so the
  // peer cannot take the failure for the end of a complete transfer.
  await state.files?.[Symbol.asyncDispose]();
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
