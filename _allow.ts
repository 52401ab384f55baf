/**
 * The passive side's allow-list: which peer addresses may become the
 * counterpart. Entries are IP addresses or CIDR ranges; matching uses
 * `@std/net`'s `matchSubnets` after normalising both sides.
 *
 * @module
 */
import { isIPv4, isIPv6, matchSubnets } from "@std/net/unstable-ip";

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * Strips the IPv4-mapped prefix from an IPv6 address (`::ffff:127.0.0.1` →
 * `127.0.0.1`), so that peers of a dual-stack listener match IPv4 rules.
 */
function unmapIPv4(address: string): string {
  return IPV4_MAPPED.exec(address)?.[1] ?? address;
}

/**
 * Validates allow-list entries and turns each into a CIDR range
 * (`10.0.0.1` → `10.0.0.1/32`, `::1` → `::1/128`), so that matching does not
 * depend on how an address is spelled.
 *
 * @throws {TypeError} When the list is not an array of strings, or an entry is
 * neither an IP address nor a CIDR range.
 */
export function parseAllowList(entries: unknown): string[] {
  if (!Array.isArray(entries)) {
    throw new TypeError(
      `Invalid option "allow": expected an array of IP addresses or CIDR ranges, got ${typeof entries}`,
    );
  }
  return entries.map((entry) => {
    const invalid = () =>
      new TypeError(
        `Invalid "allow" entry ${
          JSON.stringify(entry)
        }: expected an IP address (127.0.0.1, ::1) or a CIDR range (10.0.0.0/8, fd00::/8)`,
      );
    if (typeof entry !== "string") throw invalid();
    const [address, prefix, extra] = entry.split("/");
    const bare = unmapIPv4(address);
    const bits = isIPv4(bare) ? 32 : isIPv6(bare) ? 128 : 0;
    if (bits === 0 || extra !== undefined) throw invalid();
    if (prefix === undefined) return `${bare}/${bits}`;
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits) throw invalid();
    return `${bare}/${Number(prefix)}`;
  });
}

/**
 * Whether a peer's address is admitted by a list made with
 * {@linkcode parseAllowList}. Non-IP peers (unix sockets) never match.
 */
export function isAllowed(addr: Deno.Addr, ranges: readonly string[]): boolean {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return false;
  return matchSubnets(unmapIPv4(addr.hostname), [...ranges]);
}
