/**
 * Command-line parsing for the `connect` CLI: turns `Deno.args` into a
 * validated {@linkcode CliOptions} (the {@linkcode ConnectorOptions} for the
 * library plus what the CLI itself does with the connection), or throws a
 * {@linkcode UsageError} whose one-line message says what was wrong. Each
 * concern is read by a module of its own: the endpoint (`args_endpoint.ts`),
 * TLS (`args_tls.ts`), the secret (`args_secret.ts`) and the data flags
 * (`args_data.ts`).
 *
 * @module
 */
import type { ConnectorOptions } from "../mod.ts";
import { type DataFlags, parseDataFlags } from "./args_data.ts";
import { parseEndpoint, parseProxyPasswordEnv } from "./args_endpoint.ts";
import { parseSecretFlags, type SecretChoice } from "./args_secret.ts";
import { parseTlsFlags } from "./args_tls.ts";
import { readFlags, UsageError } from "./flags.ts";

export { UsageError } from "./flags.ts";
export type { ProgressMode } from "./args_data.ts";

/** A validated command line. */
export interface CliOptions extends DataFlags {
  /** `connect` (active), `listen` (passive), or `help` / `version`. */
  command: "connect" | "listen" | "help" | "version";
  /** The options for `new Connector(...)` (for `connect` and `listen`). */
  connector: ConnectorOptions;
  /** `--permissions`: print the `deno run` flags and exit. */
  permissions: boolean;
  /** `--debug`: stack traces with errors. */
  debug: boolean;
  /** Where the secret comes from, if any. */
  secret?: SecretChoice;
  /** The secret's flag as typed (`--code`, `--secret-file`, `--secret-env`). */
  secretFlag?: string;
  /** `--proxy-password-env NAME`: the variable holding the proxy's password. */
  proxyPasswordEnv?: string;
}

/** The help text printed by `--help`. */
export const HELP =
  `connect: move bytes between stdin/stdout (or files) and one network peer,
with honest exit codes, half-close, TLS and a progress line.

Usage:
  connect HOST PORT [options]           dial a listener (also: connect connect
                                        HOST PORT)
  connect listen [PORT] [options]       accept exactly one peer (PORT 0 or none:
                                        the system picks; the real port is printed)
  connect connect --unix PATH | listen --unix PATH
  connect connect --relay HOST:PORT --code CODE | listen --relay HOST:PORT --code

Setup:
  --host ADDR          listen: bind this address (default 0.0.0.0, all IPv4)
  --allow ADDR|CIDR    listen: admit only these peers (repeatable)
  --unix PATH          a unix socket instead of HOST and PORT
  --relay HOST:PORT    meet through a magic-wormhole transit relay instead (both
                       sides dial out; needs --code; no HOST PORT operands, and
                       listen takes no PORT): see docs/relay.md
  --timeout SECONDS    give up setting up the connection after SECONDS
  --retry N            connect: retry a refused connection N times
  --wait SECONDS       connect: keep retrying until the listener is up, for up
                       to SECONDS (instead of --timeout)
  --proxy URL          connect: through a proxy: socks5://HOST:PORT (resolves
                       HOST here), socks5h://HOST:PORT (the proxy resolves
                       it) or http://HOST:PORT (CONNECT); USER:PASS@ before
                       the proxy's host for authentication (see docs/proxy.md)
  --proxy-password-env NAME
                       connect: the proxy's password is the value of the
                       environment variable NAME (--proxy has USER@ only), so
                       it is not in the process list
TLS:
  --tls                use TLS (connect verifies the listener's certificate)
  --ca FILE            connect: trust this CA (PEM) besides the system roots
  --cert FILE --key FILE
                       listen: the server certificate and key (required);
                       connect: a client certificate
  --servername NAME    connect: the name to verify (default: HOST)
  --alpn PROTO         ALPN protocol (repeatable, in order of preference)
Peer authentication (CPace: a short code is safe; see docs/secret.md):
  --code               listen: make a code such as 42-apple-cabin-stone-quiet
                       and print the command the counterpart runs;
                       connect: ask for the code on the terminal
  --code CODE          connect: the code the listener printed (other local
                       users can read it in ps: prefer --code alone)
  --secret-file FILE   the secret is the contents of FILE (at most 4 KiB,
                       without its trailing newline)
  --secret-env NAME    the secret is the value of the environment variable
                       NAME (nothing is read from the environment otherwise)
Data:
  --send FILE          send FILE instead of stdin
  --recv FILE          write what the peer sends to FILE instead of stdout (a
                       new file: an existing one is refused, exit 2)
  --force              let --recv replace an existing file
  --send-only          discard what the peer sends
  --recv-only          send nothing (stdin is not read); never end our side
                       before the peer has ended its own (as nc -d)
  --no-half-close      at the end of the input, keep our side open until the
                       peer has ended its own
  --confirm            both sides: the receiver answers with the byte count and
                       SHA-256 of what it wrote (synced, for --recv FILE); exit
                       0 only on a matching answer
Output (stdout carries data only; everything else goes to stderr):
  --progress           show the progress line even when stderr is not a terminal
  --quiet              no progress line, no informational lines
  --json               one JSON event per line on stderr: listening, code,
                       rejected, connected, progress, done, error
  --permissions        print the exact deno run flags this command needs, exit
  --debug              stack traces with errors
  -h, --help           this text
  --version            the version

Exit codes:
  0  every input byte was written to the peer and the peer's stream ended cleanly
  1  network, TLS or I/O failure, including a truncated transfer (also a TLS
     stream that ends without close_notify) and a setup timeout
  2  usage error
  3  missing Deno permissions (one message names every flag), or a secret
     asked for that cannot be read (the message names --secret-file or
     --secret-env)
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM (what arrived is written)

Examples:
  connect listen 9000 --recv backup.tar            # receive a file
  connect connect host.example 9000 --send backup.tar   # send it
  connect listen --host 127.0.0.1                  # one-shot, random port
  connect listen 9443 --tls --cert srv.pem --key srv.key.pem
  connect connect srv.example 9443 --tls --ca ca.pem < request > reply
  echo hello | connect connect 127.0.0.1 9000 --wait 10
  connect listen 9000 --code                       # only the counterpart gets in
  connect host.example 9000 --code --recv f        # it types the code when asked
  connect listen --relay relay.example:4001 --code --recv f   # behind NAT
  connect connect host 9000 --send f --permissions # the deno run flags it needs
`;

/**
 * The command word and its operands; help and version need neither. Two
 * words that are not a command are `HOST PORT`: the short form of `connect
 * HOST PORT` (as nc takes them).
 */
function parseCommand(positionals: string[]): {
  command: "connect" | "listen";
  operands: string[];
} {
  const [command, ...operands] = positionals;
  if (
    positionals.length === 2 && command !== "connect" && command !== "listen"
  ) {
    return { command: "connect", operands: positionals };
  }
  if (command === undefined) {
    throw new UsageError(
      'missing command: "HOST PORT" (or "connect HOST PORT") or "listen [PORT]"',
    );
  }
  if (command !== "connect" && command !== "listen") {
    throw new UsageError(
      `unknown command ${
        JSON.stringify(command)
      }: expected "HOST PORT" (or "connect HOST PORT") or "listen [PORT]"`,
    );
  }
  return { command, operands };
}

/**
 * A code names its relay channel by its number: `--relay` needs `--code`,
 * whose number (4 digits) becomes the channel; a 4-digit code is for
 * `--relay` only. `listen --code` gets its channel when the code is made.
 */
export function checkRelayCode(
  connector: ConnectorOptions,
  secret: SecretChoice | undefined,
  option: unknown,
): void {
  const number = secret === "code" ? String(option).split("-")[0] : undefined;
  if (connector.relay === undefined) {
    if (number !== undefined && number.length > 2) {
      throw new UsageError(
        `the code ${
          JSON.stringify(option)
        } was made for a relay (its number is a relay channel): add --relay HOST:PORT, as the listener printed`,
      );
    }
    return;
  }
  if (secret !== "code" && secret !== "new-code" && secret !== "prompt-code") {
    throw new UsageError(
      "--relay needs --code: the code's number is the public channel at the relay and its words the secret (nothing is relayed in clear text)",
    );
  }
  if (number !== undefined) {
    if (number.length !== 4) {
      throw new UsageError(
        `--relay: the code ${
          JSON.stringify(option)
        } has no relay channel in front (4 digits, such as 4711-apple-cabin-stone-quiet): use the code that "listen --relay" printed`,
      );
    }
    connector.relay.channel = number;
  }
}

/**
 * Parses and validates a command line.
 *
 * @example Usage
 * ```ts
 * import { parseCliArgs } from "./args.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const options = parseCliArgs(["connect", "127.0.0.1", "7000", "--retry", "3"]);
 * assertEquals(options.connector.port, 7000);
 * assertEquals(options.connector.retry?.attempts, 4);
 * ```
 *
 * @param args The arguments after the program name.
 * @returns The validated options.
 * @throws {UsageError} With a one-line message on any malformed command line.
 */
export function parseCliArgs(args: readonly string[]): CliOptions {
  const flags = readFlags(args);
  const base = {
    connector: {},
    force: false,
    sendOnly: false,
    recvOnly: false,
    json: false,
    progress: "never" as const,
    quiet: false,
    confirm: false,
    halfClose: true,
    permissions: false,
    debug: flags.flag("debug"),
  };
  if (flags.flag("help")) return { ...base, command: "help" };
  if (flags.flag("version")) return { ...base, command: "version" };

  const { command, operands } = parseCommand(flags.positionals);
  const passive = command === "listen";
  const connector = parseEndpoint(flags, passive, operands);
  const proxyPasswordEnv = parseProxyPasswordEnv(flags, connector);
  const tls = parseTlsFlags(flags, passive);
  if (tls !== undefined) connector.tls = tls;
  const { secret, flag, option } = parseSecretFlags(flags, passive);
  if (option !== undefined) connector.secret = option;
  checkRelayCode(connector, secret, option);
  // Two CLIs with a secret confirm delivery: each announces it inside the
  // authenticated exchange, and runs it when the peer announced it too.
  if (secret !== undefined) connector.confirmDelivery = true;
  return {
    command,
    connector,
    ...parseDataFlags(flags),
    permissions: flags.flag("permissions"),
    debug: flags.flag("debug"),
    secret,
    secretFlag: flag,
    ...(proxyPasswordEnv === undefined ? {} : { proxyPasswordEnv }),
  };
}
