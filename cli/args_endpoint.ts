/**
 * The endpoint part of a command line: `HOST PORT`, `[PORT]` or `--unix
 * PATH`, `--host`, `--allow`, `--proxy`, and when to give up (`--timeout`, `--wait`,
 * `--retry`).
 *
 * @module
 */
import type { ConnectorOptions } from "../mod.ts";
import { parseAddressRange, parseHost } from "../internal.ts";
import { type Flags, parseSeconds, UsageError } from "./flags.ts";

const CONNECT_ONLY = [
  "ca",
  "servername",
  "retry",
  "wait",
  "proxy",
  "proxy-password-env",
] as const;
const LISTEN_ONLY = ["host", "allow"] as const;
const MAX_RETRIES = 1_000_000;

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

/** Refuses the flags that belong to the other command. */
export function checkCommandFlags(flags: Flags, passive: boolean): void {
  for (const name of passive ? CONNECT_ONLY : LISTEN_ONLY) {
    if (flags.given(name)) {
      throw new UsageError(
        `--${name} applies to "${passive ? "connect" : "listen"}" only`,
      );
    }
  }
}

function parseUnix(flags: Flags, operands: string[], path: string) {
  if (operands.length > 0) {
    throw new UsageError(
      `--unix replaces HOST and PORT; unexpected ${
        JSON.stringify(operands[0])
      }`,
    );
  }
  for (
    const name of [
      "host",
      "allow",
      "tls",
      "proxy",
      "proxy-password-env",
    ] as const
  ) {
    if (flags.given(name)) {
      throw new UsageError(`--${name} cannot be combined with --unix`);
    }
  }
  return { path };
}

/** A host as the user typed it, checked with the Connector's rules. */
function checkHost(text: string, what: string): string {
  if (parseHost(text) === undefined) {
    throw new UsageError(
      `${what} ${
        JSON.stringify(text)
      } is not a host name or IP address (example.com, 127.0.0.1, ::1 or [::1]; the port is a separate argument)`,
    );
  }
  return text;
}

function parseAllow(flags: Flags): string[] {
  const allow = flags.values("allow");
  for (const entry of allow) {
    if (parseAddressRange(entry) === undefined) {
      throw new UsageError(
        `--allow ${
          JSON.stringify(entry)
        } is not an IP address or CIDR range (127.0.0.1, ::1, 10.0.0.0/8, fd00::/8; no zone id)`,
      );
    }
  }
  return allow;
}

function parseListenAddress(flags: Flags, operands: string[]) {
  if (operands.length > 1) {
    throw new UsageError(
      `"listen" takes one PORT; unexpected ${JSON.stringify(operands[1])}`,
    );
  }
  return {
    host: checkHost(flags.value("host") ?? "0.0.0.0", "--host"),
    port: operands[0] === undefined ? 0 : parsePort(operands[0], "listen"),
  };
}

function parseConnectAddress(operands: string[]) {
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
  return {
    host: checkHost(operands[0], "HOST"),
    port: parsePort(operands[1], "connect"),
  };
}

/**
 * `--relay HOST:PORT` (an IPv6 address in brackets): both commands meet
 * there, so neither takes HOST or PORT operands. The channel comes from the
 * code (see args.ts).
 */
function parseRelay(flags: Flags, operands: string[], relay: string) {
  if (operands.length > 0) {
    throw new UsageError(
      `--relay replaces HOST and PORT (both sides dial the relay); unexpected ${
        JSON.stringify(operands[0])
      }`,
    );
  }
  for (const name of ["unix", "host", "allow", "tls"] as const) {
    if (flags.given(name)) {
      throw new UsageError(`--${name} cannot be combined with --relay`);
    }
  }
  const match = /^(.+):(\d{1,5})$/.exec(relay);
  const host = match?.[1];
  if (
    host === undefined || host.includes(":") && !host.startsWith("[") ||
    Number(match![2]) < 1 || Number(match![2]) > 65535
  ) {
    throw new UsageError(
      `--relay expects the relay's HOST:PORT such as relay.example:4001 or [::1]:4001, got ${
        JSON.stringify(relay)
      }`,
    );
  }
  checkHost(host, "--relay host");
  return { relay: { host, port: Number(match![2]), channel: "" } };
}

/** `--timeout`, `--wait` and `--retry` as the connector's timeout and retry. */
function parseTiming(flags: Flags): ConnectorOptions {
  const timeout = flags.value("timeout");
  const wait = flags.value("wait");
  const retry = flags.value("retry");
  if (timeout !== undefined && wait !== undefined) {
    throw new UsageError(
      "give --wait (retry until then) or --timeout, not both",
    );
  }
  const timing: ConnectorOptions = {};
  if (timeout !== undefined) timing.timeout = parseSeconds(timeout, "timeout");
  if (wait !== undefined) timing.timeout = parseSeconds(wait, "wait");
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
    timing.retry = {
      attempts: retry !== undefined
        ? Number(retry) + 1
        : Number.MAX_SAFE_INTEGER,
      delay: 100,
      maxDelay: 1000,
    };
  }
  return timing;
}

/**
 * The connector options for where to connect or listen and for how long:
 * mode, host and port or path, allow list, proxy, timeout and retry.
 */
export function parseEndpoint(
  flags: Flags,
  passive: boolean,
  operands: string[],
): ConnectorOptions {
  checkCommandFlags(flags, passive);
  const unix = flags.value("unix");
  const relay = flags.value("relay");
  const address = relay !== undefined
    ? parseRelay(flags, operands, relay)
    : unix !== undefined
    ? parseUnix(flags, operands, unix)
    : passive
    ? parseListenAddress(flags, operands)
    : parseConnectAddress(operands);
  const connector: ConnectorOptions = {
    mode: passive ? "passive" : "active",
    ...address,
  };
  const allow = parseAllow(flags);
  if (allow.length > 0) connector.allow = allow;
  const proxy = flags.value("proxy");
  if (proxy !== undefined) connector.proxy = proxy;
  return { ...connector, ...parseTiming(flags) };
}

/** What a proxy URL's password is replaced with until it is read. */
export const PROXY_PASSWORD_PLACEHOLDER = "from-the-environment";

/**
 * `--proxy-password-env NAME`: the proxy's password is read from the
 * environment (by `run`, once permissions are checked), so that it is not in
 * the process list. The URL must name a user and no password; until the
 * password is read, a placeholder stands in for it (the connector never
 * shows a password).
 */
export function parseProxyPasswordEnv(
  flags: Flags,
  connector: ConnectorOptions,
): string | undefined {
  const variable = flags.value("proxy-password-env");
  if (variable === undefined) return undefined;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
    throw new UsageError(
      `--proxy-password-env expects the name of an environment variable (letters, digits, _), got ${
        JSON.stringify(variable)
      }`,
    );
  }
  if (typeof connector.proxy !== "string") {
    throw new UsageError("--proxy-password-env needs --proxy URL");
  }
  let url: URL;
  try {
    url = new URL(connector.proxy);
  } catch {
    return variable; // the connector explains what is wrong with the URL
  }
  if (url.username === "" || url.password !== "") {
    throw new UsageError(
      "--proxy-password-env needs a --proxy URL with a user name and no password (socks5://USER@HOST:PORT)",
    );
  }
  url.password = PROXY_PASSWORD_PLACEHOLDER;
  connector.proxy = url.href;
  return variable;
}
