/**
 * The command the counterpart of `listen --code` runs, printed by the
 * listener: it holds no code (the counterpart is asked for it on its
 * terminal, so the code never shows in `ps`), names the listener's real
 * addresses, and runs as printed the way this CLI was started: from a
 * checkout with its import map or config, from JSR as `deno run ...
 * jsr:@transfer/connect@VERSION/cli`, installed as `connect ...`.
 *
 * @module
 */
import { Connector, formatHostPort, permissionFlags } from "../mod.ts";
import { shellQuote } from "./shell.ts";

/** What the listener prints for its counterpart. */
export interface Counterpart {
  /** The command, for the first of the listener's addresses. */
  command: string;
  /** The same with `connect` installed. */
  installed: string;
  /** Lines that say which other addresses work, or how to find them. */
  notes: string[];
}

const CLI_URL = new URL("../cli.ts", import.meta.url);

/**
 * How this CLI was started, as `deno run` arguments after the permission
 * flags: a checkout's path with the import map or config it resolves its
 * packages with, or the JSR specifier.
 */
export function invocation(): string[] {
  if (CLI_URL.protocol === "file:") {
    const root = new URL("./", CLI_URL);
    const offline = new URL("offline/", root);
    // The hermetic import map, or else the checkout's deno.json.
    const mapped = import.meta.resolve("@std/cli/parse-args")
      .startsWith(offline.href);
    const config = mapped
      ? `--import-map=${
        decodeURIComponent(new URL("import_map.json", offline).pathname)
      }`
      : `--config=${decodeURIComponent(new URL("deno.json", root).pathname)}`;
    return [config, decodeURIComponent(CLI_URL.pathname)];
  }
  const jsr = /^\/@transfer\/connect\/([^/]+)\/cli\.ts$/.exec(CLI_URL.pathname);
  if (CLI_URL.hostname === "jsr.io" && jsr) {
    return [`jsr:@transfer/connect@${jsr[1]}/cli`];
  }
  return [CLI_URL.href];
}

/** The hint for a wildcard bind whose addresses cannot be listed. */
const FIND_ADDRESSES =
  "HOST: an address of this machine that the counterpart reaches; list them with `ip -brief address` (macOS: `ifconfig`, Windows: `ipconfig`), or start listen with --allow-sys=networkInterfaces (an installed connect: reinstall with it) to have them printed here";

/**
 * The addresses a listener bound to `hostname` is reached at: the address
 * itself, or for `0.0.0.0` / `::` the interfaces' (when
 * `--allow-sys=networkInterfaces` is granted), other machines' first.
 */
export function listenerAddresses(hostname: string): string[] {
  if (hostname !== "0.0.0.0" && hostname !== "::") return [hostname];
  const granted = Deno.permissions.querySync({
    name: "sys",
    kind: "networkInterfaces",
  }).state === "granted";
  if (!granted) return [];
  const found = Deno.networkInterfaces().filter((face) =>
    (hostname === "::" || face.family === "IPv4") &&
    !face.address.toLowerCase().startsWith("fe80:")
  ).map((face) => face.address);
  const unique = [...new Set(found)];
  const loopback = (address: string) =>
    address.startsWith("127.") || address === "::1";
  return [
    ...unique.filter((address) => !loopback(address)),
    ...unique.filter(loopback),
  ];
}

function commandFor(
  host: string,
  port: number,
  tls: boolean,
): { command: string; installed: string } {
  const operands = [host, String(port), ...(tls ? ["--tls"] : []), "--code"];
  const flags = permissionFlags(new Connector({ host, port }).permissions);
  return {
    command: ["deno", "run", ...flags, ...invocation(), "connect", ...operands]
      .map(shellQuote).join(" "),
    installed: ["connect", ...operands].map(shellQuote).join(" "),
  };
}

/** The command for a counterpart that `connector` describes, with no notes. */
function commandAt(connector: Connector, endpoint: string[]): Counterpart {
  const flags = permissionFlags(connector.permissions);
  const operands = ["connect", ...endpoint, "--code"];
  return {
    command: ["deno", "run", ...flags, ...invocation(), ...operands]
      .map(shellQuote).join(" "),
    installed: operands.map(shellQuote).join(" "),
    notes: [],
  };
}

/**
 * The counterpart's command for a listener bound to `addr`.
 *
 * @param addr The bound address.
 * @param tls Whether the listener uses TLS.
 * @param relay The relay both sides meet at, if any.
 */
export function counterpartOf(
  addr: Deno.Addr,
  tls: boolean,
  relay?: { host: string; port: number },
): Counterpart {
  if (relay !== undefined) {
    const { host, port } = relay;
    return commandAt(
      new Connector({ relay: { host, port, channel: "0000" }, secret: "-" }),
      ["--relay", formatHostPort(host, port)],
    );
  }
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    return commandAt(new Connector({ path: addr.path }), ["--unix", addr.path]);
  }
  const { hostname, port } = addr as Deno.NetAddr;
  const [first, ...others] = listenerAddresses(hostname);
  if (first === undefined) {
    return { ...commandFor("HOST", port, tls), notes: [FIND_ADDRESSES] };
  }
  return {
    ...commandFor(first, port, tls),
    notes: others.length === 0 ? [] : [
      `or, if it reaches this machine at another address, replace ${first} with one of: ${
        others.join(", ")
      }`,
    ],
  };
}
