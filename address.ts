/**
 * How endpoints are written in messages and permission descriptors:
 * `127.0.0.1:7000`, `[::1]:7000`, `localhost:7000`, or a unix socket path.
 *
 * @module
 */

/**
 * Formats a host and port the way Deno's `--allow-net` flag writes them:
 * IPv6 literals in brackets.
 *
 * @example Usage
 * ```ts
 * import { formatHostPort } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(formatHostPort("127.0.0.1", 7000), "127.0.0.1:7000");
 * assertEquals(formatHostPort("::1", 7000), "[::1]:7000");
 * ```
 *
 * @param host A host name or IP address.
 * @param port A port number.
 * @returns `host:port`, with IPv6 literals bracketed.
 */
export function formatHostPort(host: string, port: number): string {
  const bracketed = host.includes(":") && !host.startsWith("[")
    ? `[${host}]`
    : host;
  return `${bracketed}:${port}`;
}

/**
 * Formats a `Deno.Addr` for a message: `host:port` for TCP and UDP, the socket
 * path for unix sockets.
 *
 * @example Usage
 * ```ts
 * import { formatAddr } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   formatAddr({ transport: "tcp", hostname: "::1", port: 80 }),
 *   "[::1]:80",
 * );
 * assertEquals(
 *   formatAddr({ transport: "unix", path: "/tmp/a.sock" }),
 *   "/tmp/a.sock",
 * );
 * ```
 *
 * @param addr The address to format.
 * @returns A short readable form of the address.
 */
export function formatAddr(addr: Deno.Addr): string {
  // Connections upgraded with Deno.startTls report addresses without a
  // `transport` field (Deno 2.9.6): recognise a network address by its fields.
  const network = addr as Partial<Deno.NetAddr>;
  if (
    typeof network.hostname === "string" && typeof network.port === "number"
  ) {
    return formatHostPort(network.hostname, network.port);
  }
  if ("path" in addr && typeof addr.path === "string") return addr.path;
  return `(unnamed ${addr.transport} socket)`;
}
