/**
 * The `proxy` option as a URL: `socks5://`, `socks5h://` or `http://`, an
 * optional `user:password@`, a host and a port; checked once, before
 * anything is opened, with messages that never show the password.
 *
 * @module
 */
import { formatHostPort } from "./address.ts";
import { parseHost } from "./_ip.ts";
import { InvalidOptionError, OptionRangeError } from "./errors.ts";

/**
 * How the proxy is spoken to: SOCKS5 resolving target names on this side
 * (`socks5`), SOCKS5 letting the proxy resolve them (`socks5h`), or HTTP
 * CONNECT (`http`).
 */
export type ProxyScheme = "socks5" | "socks5h" | "http";

/** A proxy URL, validated. */
export interface ProxyUrl {
  /** The protocol spoken to the proxy. */
  scheme: ProxyScheme;
  /** The proxy's host, without brackets. */
  hostname: string;
  /** The proxy's port. */
  port: number;
  /** `host:port` of the proxy, as `--allow-net` writes it. */
  endpoint: string;
  /** The credentials, percent-decoded, if the URL has any. */
  auth: { username: string; password: string } | undefined;
  /** The URL with the password replaced by `[redacted]`. */
  redacted: string;
}

const ACCEPTED =
  "expected socks5://[user:password@]host:port, socks5h://[user:password@]host:port or http://[user:password@]host:port";
const SCHEMES: Record<string, ProxyScheme> = {
  "socks5:": "socks5",
  "socks5h:": "socks5h",
  "http:": "http",
};
/** RFC 1929: a user name and a password of 1 to 255 bytes each. */
const MAX_SOCKS_CREDENTIAL = 255;

function invalid(what: string): TypeError {
  return new InvalidOptionError("proxy", `${what}; ${ACCEPTED}`);
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(`the ${what} is not valid percent-encoding`);
  }
}

/** The URL without its password, for messages and the options echoed. */
function redact(scheme: ProxyScheme, endpoint: string, user: string): string {
  const userinfo = user === "" ? "" : `${user}:[redacted]@`;
  return `${scheme}://${userinfo}${endpoint}`;
}

function parseUrl(value: string | URL): URL {
  if (value instanceof URL) return new URL(value.href);
  if (typeof value !== "string") {
    throw invalid(
      `expected a string or a URL, got ${
        value === null ? "null" : typeof value
      }`,
    );
  }
  try {
    return new URL(value);
  } catch {
    // The input may hold a password: neither it nor URL's error (which
    // quotes it) goes into the message.
    throw invalid("it is not a URL");
  }
}

function parseCredentials(
  url: URL,
  scheme: ProxyScheme,
): ProxyUrl["auth"] {
  if (url.username === "" && url.password === "") return undefined;
  const username = decode(url.username, "user name");
  const password = decode(url.password, "password");
  if (scheme === "http") {
    if (username.includes(":")) {
      throw invalid(
        "the user name contains a colon, which HTTP Basic authentication cannot carry",
      );
    }
    return { username, password };
  }
  const encoder = new TextEncoder();
  if (username === "" || password === "") {
    throw invalid(
      "SOCKS5 authentication (RFC 1929) needs both a user name and a password",
    );
  }
  for (
    const [what, text] of [["user name", username], ["password", password]]
  ) {
    if (encoder.encode(text).length > MAX_SOCKS_CREDENTIAL) {
      throw new OptionRangeError(
        "proxy",
        `the ${what} is longer than ${MAX_SOCKS_CREDENTIAL} bytes, the most SOCKS5 (RFC 1929) can carry`,
      );
    }
  }
  return { username, password };
}

/**
 * Checks a proxy URL.
 *
 * @throws {TypeError} On anything but a URL of an accepted form, naming what
 * was wrong (never the password).
 * @throws {RangeError} On a port out of range, or SOCKS5 credentials longer
 * than 255 bytes.
 */
export function parseProxyUrl(value: string | URL): ProxyUrl {
  const url = parseUrl(value);
  const scheme = SCHEMES[url.protocol];
  if (scheme === undefined) {
    throw invalid(
      `the scheme ${
        JSON.stringify(url.protocol.slice(0, -1))
      } is not supported${
        url.protocol === "https:"
          ? " (TLS to the proxy itself is not supported)"
          : url.protocol.startsWith("socks4")
          ? " (SOCKS4 is not supported)"
          : ""
      }`,
    );
  }
  const host = parseHost(url.hostname);
  if (host === undefined || url.hostname === "") {
    throw invalid("it has no valid proxy host");
  }
  if (host.hostname.includes("%")) {
    throw invalid(
      "the proxy host has an IPv6 zone id, which URLs cannot carry",
    );
  }
  // `new URL` drops http's default port; only http has one.
  const port = url.port === ""
    ? (scheme === "http" ? 80 : 0)
    : Number(url.port);
  if (url.port === "" && scheme !== "http") {
    throw invalid("it has no port (SOCKS5 has no default port)");
  }
  if (port < 1 || port > 65535) {
    throw new OptionRangeError(
      "proxy",
      `the port ${port} is out of range; expected 1 to 65535`,
    );
  }
  if (
    (url.pathname !== "" && url.pathname !== "/") || url.search !== "" ||
    url.hash !== ""
  ) {
    throw invalid(
      "it has a path, query or fragment; a proxy URL ends after the port",
    );
  }
  const auth = parseCredentials(url, scheme);
  const endpoint = formatHostPort(host.hostname, port);
  return {
    scheme,
    hostname: host.hostname,
    port,
    endpoint,
    auth,
    redacted: redact(scheme, endpoint, url.username),
  };
}
