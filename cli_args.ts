/**
 * Command-line parsing for the `connect` CLI: turns `Deno.args` into a
 * validated {@linkcode CliOptions} (the {@linkcode ConnectorOptions} for the
 * library plus what the CLI itself does with the connection), or throws a
 * {@linkcode UsageError} whose one-line message says what was wrong.
 *
 * Values are declared as strings to `@std/cli`'s `parseArgs` and validated
 * here, so `--port 007`, `--timeout 1e3` or `--timeout -1` never slip through
 * as numbers.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import type { ConnectorOptions, TlsOptions } from "./mod.ts";

/** The environment variable that holds a shared secret for the CLI. */
export const SECRET_VARIABLE = "TRANSFER_SECRET";

/** What the command line asked for is malformed: the CLI exits with code 2. */
export class UsageError extends Error {
  /**
   * @param message One line saying what was wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** How progress is shown on stderr. */
export type ProgressMode = "auto" | "always" | "never";

/** Whether `TRANSFER_SECRET` is set, as far as this process may see. */
export type SecretVariableState = "set" | "unset" | "unknown";

/** A validated command line. */
export interface CliOptions {
  /** `connect` (active), `listen` (passive), or `help` / `version`. */
  command: "connect" | "listen" | "help" | "version";
  /** The options for `new Connector(...)` (for `connect` and `listen`). */
  connector: ConnectorOptions;
  /** `--send FILE`: the input instead of stdin. */
  send?: string;
  /** `--recv FILE`: the output instead of stdout. */
  recv?: string;
  /** `--send-only`: discard what the peer sends. */
  sendOnly: boolean;
  /** `--recv-only`: send nothing (stdin is not read). */
  recvOnly: boolean;
  /** `--json`: one JSON event per line on stderr. */
  json: boolean;
  /** `--progress` / `--quiet` / neither. */
  progress: ProgressMode;
  /** `--quiet`: no progress and no informational lines. */
  quiet: boolean;
  /** `--permissions`: print the `deno run` flags and exit. */
  permissions: boolean;
  /** `--debug`: stack traces with errors. */
  debug: boolean;
  /** Where the secret comes from, if any. */
  secret?: "file" | "env" | "new";
  /** True when `TRANSFER_SECRET` could not be checked (no env permission). */
  secretVariableUnknown: boolean;
}

const BOOLEAN_FLAGS = [
  "tls",
  "send-only",
  "recv-only",
  "json",
  "progress",
  "quiet",
  "permissions",
  "help",
  "version",
  "debug",
  "new-secret",
] as const;
const VALUE_FLAGS = [
  "host",
  "unix",
  "ca",
  "cert",
  "key",
  "servername",
  "timeout",
  "send",
  "recv",
  "retry",
  "wait",
  "secret-file",
] as const;
const REPEATABLE_FLAGS = ["allow", "alpn"] as const;

type ValueFlag = typeof VALUE_FLAGS[number] | typeof REPEATABLE_FLAGS[number];

const CONNECT_ONLY = ["ca", "servername", "retry", "wait"] as const;
const LISTEN_ONLY = ["host", "allow", "new-secret"] as const;
const MAX_SECONDS = 2_147_483;
const MAX_RETRIES = 1_000_000;

/** The help text printed by `--help`. */
export const HELP =
  `connect: move bytes between stdin/stdout (or files) and one network peer,
with honest exit codes, half-close, TLS and a progress line.

Usage:
  connect connect HOST PORT [options]   dial a listener
  connect listen [PORT] [options]       accept exactly one peer (PORT 0 or none:
                                        the system picks; the real port is printed)
  connect connect --unix PATH | listen --unix PATH

Setup:
  --host ADDR          listen: bind this address (default 0.0.0.0, all IPv4)
  --allow ADDR|CIDR    listen: admit only these peers (repeatable)
  --unix PATH          a unix socket instead of HOST and PORT
  --timeout SECONDS    give up setting up the connection after SECONDS
  --retry N            connect: retry a refused connection N times
  --wait SECONDS       connect: keep retrying until the listener is up, for up
                       to SECONDS (instead of --timeout)
TLS:
  --tls                use TLS (connect verifies the listener's certificate)
  --ca FILE            connect: trust this CA (PEM) besides the system roots
  --cert FILE --key FILE
                       listen: the server certificate and key (required);
                       connect: a client certificate
  --servername NAME    connect: the name to verify (default: HOST)
  --alpn PROTO         ALPN protocol (repeatable, in order of preference)
Peer authentication (a shared secret, never on the command line):
  --secret-file FILE   read the secret (at least 16 bytes) from FILE
  ${SECRET_VARIABLE}      the secret, from the environment (needs
                       --allow-env=${SECRET_VARIABLE}; --permissions includes it)
  --new-secret         listen: make a random secret and print, once, the
                       command the counterpart runs
Data:
  --send FILE          send FILE instead of stdin
  --recv FILE          write what the peer sends to FILE instead of stdout
  --send-only          discard what the peer sends
  --recv-only          send nothing (stdin is not read)
Output (stdout carries data only; everything else goes to stderr):
  --progress           show the progress line even when stderr is not a terminal
  --quiet              no progress line, no informational lines
  --json               one JSON event per line on stderr: listening, connected,
                       progress, done, error
  --permissions        print the exact deno run flags this command needs, exit
  --debug              stack traces with errors
  -h, --help           this text
  --version            the version

Exit codes:
  0  every input byte was written to the peer and the peer's stream ended cleanly
  1  network, TLS or I/O failure, including a truncated transfer (also a TLS
     stream that ends without close_notify) and a setup timeout
  2  usage error
  3  a missing Deno permission (the message names the flag)

Examples:
  connect listen 9000 --recv backup.tar            # receive a file
  connect connect host.example 9000 --send backup.tar   # send it
  connect listen --host 127.0.0.1                  # one-shot, random port
  connect listen 9443 --tls --cert srv.pem --key srv.key.pem
  connect connect srv.example 9443 --tls --ca ca.pem < request > reply
  echo hello | connect connect 127.0.0.1 9000 --wait 10
  connect listen 9000 --new-secret                 # only the counterpart gets in
  connect connect host 9000 --send f --permissions # the deno run flags it needs
`;

function describe(flag: string): string {
  return flag.length === 1 ? `-${flag}` : `--${flag}`;
}

function parseSeconds(text: string, flag: string): number {
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text)) {
    throw new UsageError(
      `--${flag} expects a number of seconds such as 5 or 0.5, got ${
        JSON.stringify(text)
      }`,
    );
  }
  const seconds = Number(text);
  if (seconds <= 0 || seconds > MAX_SECONDS) {
    throw new UsageError(
      `--${flag} expects more than 0 and at most ${MAX_SECONDS} seconds, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return Math.max(1, Math.round(seconds * 1000));
}

function parsePort(text: string, command: "connect" | "listen"): number {
  const min = command === "connect" ? 1 : 0;
  if (!/^\d{1,5}$/.test(text) || Number(text) < min || Number(text) > 65535) {
    throw new UsageError(
      `PORT must be an integer from ${min} to 65535, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return Number(text);
}

/**
 * Parses and validates a command line.
 *
 * @example Usage
 * ```ts
 * import { parseCliArgs } from "./cli_args.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const options = parseCliArgs(["connect", "127.0.0.1", "7000", "--retry", "3"]);
 * assertEquals(options.connector.port, 7000);
 * assertEquals(options.connector.retry?.attempts, 4);
 * ```
 *
 * @param args The arguments after the program name.
 * @param secretVariable Whether `TRANSFER_SECRET` is set (`"unknown"` when
 * the process may not read it).
 * @returns The validated options.
 * @throws {UsageError} With a one-line message on any malformed command line.
 */
export function parseCliArgs(
  args: readonly string[],
  secretVariable: SecretVariableState = "unset",
): CliOptions {
  const separator = args.indexOf("--");
  const flagArgs = separator === -1 ? [...args] : args.slice(0, separator);
  const positionals: string[] = [];
  let unknownFlag: string | undefined;
  const parsed = parseArgs(flagArgs, {
    boolean: [...BOOLEAN_FLAGS],
    string: [...VALUE_FLAGS, ...REPEATABLE_FLAGS],
    collect: [...REPEATABLE_FLAGS],
    alias: { h: "help" },
    unknown: (arg: string, key?: string) => {
      if (key === undefined) positionals.push(arg);
      else unknownFlag ??= arg.split("=")[0];
      return false;
    },
  });
  if (separator !== -1) positionals.push(...args.slice(separator + 1));
  if (unknownFlag !== undefined) {
    throw new UsageError(`unknown option ${JSON.stringify(unknownFlag)}`);
  }
  const flag = (name: typeof BOOLEAN_FLAGS[number]): boolean =>
    parsed[name] === true;
  const value = (name: ValueFlag): string | undefined => {
    const raw = parsed[name];
    if (raw === undefined) return undefined;
    if (typeof raw !== "string" || raw === "") {
      throw new UsageError(`${describe(name)} needs a value`);
    }
    return raw;
  };
  const values = (name: typeof REPEATABLE_FLAGS[number]): string[] => {
    const raw = (parsed[name] ?? []) as unknown[];
    for (const item of raw) {
      if (typeof item !== "string" || item === "") {
        throw new UsageError(`${describe(name)} needs a value`);
      }
    }
    return raw as string[];
  };
  for (const name of VALUE_FLAGS) value(name);
  for (const name of REPEATABLE_FLAGS) values(name);

  const base = {
    connector: {},
    sendOnly: false,
    recvOnly: false,
    json: false,
    progress: "never" as const,
    quiet: false,
    permissions: false,
    debug: flag("debug"),
    secretVariableUnknown: false,
  };
  if (flag("help")) return { ...base, command: "help" };
  if (flag("version")) return { ...base, command: "version" };

  const [command, ...operands] = positionals;
  if (command === undefined) {
    throw new UsageError(
      'missing command: "connect HOST PORT" or "listen [PORT]"',
    );
  }
  if (command !== "connect" && command !== "listen") {
    throw new UsageError(
      `unknown command ${
        JSON.stringify(command)
      }: expected "connect HOST PORT" or "listen [PORT]"`,
    );
  }
  const passive = command === "listen";
  for (const name of passive ? CONNECT_ONLY : LISTEN_ONLY) {
    const given = name === "allow"
      ? values(name).length > 0
      : name === "new-secret"
      ? flag(name)
      : value(name) !== undefined;
    if (given) {
      throw new UsageError(
        `--${name} applies to "${passive ? "connect" : "listen"}" only`,
      );
    }
  }

  const connector: ConnectorOptions = { mode: passive ? "passive" : "active" };
  const unix = value("unix");
  if (unix !== undefined) {
    if (operands.length > 0) {
      throw new UsageError(
        `--unix replaces HOST and PORT; unexpected ${
          JSON.stringify(operands[0])
        }`,
      );
    }
    for (const name of ["host", "allow", "tls"] as const) {
      const given = name === "allow"
        ? values(name).length > 0
        : name === "tls"
        ? flag(name)
        : value(name) !== undefined;
      if (given) {
        throw new UsageError(`--${name} cannot be combined with --unix`);
      }
    }
    connector.path = unix;
  } else if (passive) {
    if (operands.length > 1) {
      throw new UsageError(
        `"listen" takes one PORT; unexpected ${JSON.stringify(operands[1])}`,
      );
    }
    connector.host = value("host") ?? "0.0.0.0";
    connector.port = operands[0] === undefined
      ? 0
      : parsePort(operands[0], "listen");
  } else {
    if (operands.length < 2) {
      throw new UsageError(
        `"connect" needs HOST and PORT (missing ${
          operands.length === 0 ? "HOST and PORT" : "PORT"
        })`,
      );
    }
    if (operands.length > 2) {
      throw new UsageError(
        `"connect" takes HOST and PORT; unexpected ${
          JSON.stringify(operands[2])
        }`,
      );
    }
    if (operands[0] === "") throw new UsageError("HOST must not be empty");
    connector.host = operands[0];
    connector.port = parsePort(operands[1], "connect");
  }

  const allow = values("allow");
  if (allow.length > 0) connector.allow = allow;

  const timeout = value("timeout");
  const wait = value("wait");
  const retry = value("retry");
  if (timeout !== undefined && wait !== undefined) {
    throw new UsageError(
      "give --wait (retry until then) or --timeout, not both",
    );
  }
  if (timeout !== undefined) {
    connector.timeout = parseSeconds(timeout, "timeout");
  }
  if (wait !== undefined) connector.timeout = parseSeconds(wait, "wait");
  if (retry !== undefined) {
    if (!/^\d{1,7}$/.test(retry) || Number(retry) > MAX_RETRIES) {
      throw new UsageError(
        `--retry expects a number of retries from 0 to ${MAX_RETRIES}, got ${
          JSON.stringify(retry)
        }`,
      );
    }
  }
  if (retry !== undefined || wait !== undefined) {
    connector.retry = {
      attempts: retry !== undefined
        ? Number(retry) + 1
        : Number.MAX_SAFE_INTEGER,
      delay: 100,
      maxDelay: 1000,
    };
  }

  const tlsFlags = {
    ca: value("ca"),
    cert: value("cert"),
    key: value("key"),
    servername: value("servername"),
  };
  const alpn = values("alpn");
  if (flag("tls")) {
    const tls: TlsOptions = {};
    if (tlsFlags.ca !== undefined) tls.caFile = tlsFlags.ca;
    if (tlsFlags.cert !== undefined) tls.certFile = tlsFlags.cert;
    if (tlsFlags.key !== undefined) tls.keyFile = tlsFlags.key;
    if (tlsFlags.servername !== undefined) tls.hostname = tlsFlags.servername;
    if (alpn.length > 0) tls.alpnProtocols = alpn;
    if (passive && (tls.certFile === undefined || tls.keyFile === undefined)) {
      throw new UsageError(
        `"listen --tls" needs --cert FILE and --key FILE (missing ${
          tls.certFile === undefined
            ? tls.keyFile === undefined ? "both" : "--cert"
            : "--key"
        })`,
      );
    }
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      throw new UsageError(
        "a client certificate needs both --cert FILE and --key FILE",
      );
    }
    connector.tls = tls;
  } else {
    const stray = Object.entries(tlsFlags).find(([, given]) =>
      given !== undefined
    )?.[0] ?? (alpn.length > 0 ? "alpn" : undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} needs --tls`);
  }

  const secretFile = value("secret-file");
  const newSecret = flag("new-secret");
  let secret: CliOptions["secret"];
  if (secretFile !== undefined && newSecret) {
    throw new UsageError("give --secret-file or --new-secret, not both");
  }
  if (secretFile !== undefined) {
    connector.secret = { file: secretFile };
    secret = "file";
  } else if (newSecret) {
    secret = "new";
  } else if (secretVariable === "set") {
    connector.secret = { env: SECRET_VARIABLE };
    secret = "env";
  }

  const send = value("send");
  const recv = value("recv");
  const sendOnly = flag("send-only");
  const recvOnly = flag("recv-only");
  if (sendOnly && recvOnly) {
    throw new UsageError("give --send-only or --recv-only, not both");
  }
  if (send !== undefined && recvOnly) {
    throw new UsageError("--send cannot be combined with --recv-only");
  }
  if (recv !== undefined && sendOnly) {
    throw new UsageError("--recv cannot be combined with --send-only");
  }
  if (send !== undefined && send === recv) {
    throw new UsageError("--send and --recv name the same file");
  }
  if (flag("progress") && flag("quiet")) {
    throw new UsageError("give --progress or --quiet, not both");
  }

  return {
    command,
    connector,
    send,
    recv,
    sendOnly,
    recvOnly,
    json: flag("json"),
    progress: flag("progress") ? "always" : flag("quiet") ? "never" : "auto",
    quiet: flag("quiet"),
    permissions: flag("permissions"),
    debug: flag("debug"),
    secret,
    secretVariableUnknown: secret === undefined && secretVariable === "unknown",
  };
}
