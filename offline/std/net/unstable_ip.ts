/**
 * OFFLINE STAND-IN for `jsr:@std/net/unstable-ip` (see offline/README.md):
 * `isIPv4`, `isIPv6` and `matchSubnets` over `node:net`. Not published.
 *
 * Documented behaviour kept on purpose: an entry without "/" is compared with
 * the address verbatim, and an address is only matched against rules of its own
 * family (an IPv4-mapped IPv6 address never matches an IPv4 rule).
 *
 * @module
 */
import {
  BlockList,
  isIPv4 as nodeIsIPv4,
  isIPv6 as nodeIsIPv6,
} from "node:net";

/** Whether `addr` is a valid IPv4 address. */
export function isIPv4(addr: string): boolean {
  return nodeIsIPv4(addr);
}

/** Whether `addr` is a valid IPv6 address. */
export function isIPv6(addr: string): boolean {
  return nodeIsIPv6(addr);
}

function matchSubnet(addr: string, family: "ipv4" | "ipv6", subnet: string) {
  const slash = subnet.indexOf("/");
  const network = subnet.slice(0, slash);
  const prefixText = subnet.slice(slash + 1);
  const maxPrefix = family === "ipv4" ? 32 : 128;
  const networkFamily = nodeIsIPv4(network)
    ? "ipv4"
    : nodeIsIPv6(network)
    ? "ipv6"
    : undefined;
  if (networkFamily !== family || !/^\d{1,3}$/.test(prefixText)) return false;
  const prefix = Number(prefixText);
  if (prefix > maxPrefix) return false;
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return list.check(addr, family);
}

/** Whether `addr` equals one of the plain addresses or lies in one of the CIDR subnets. */
export function matchSubnets(addr: string, subnetOrIps: string[]): boolean {
  const family = nodeIsIPv4(addr) ? "ipv4" : nodeIsIPv6(addr) ? "ipv6" : null;
  if (family === null) return false;
  return subnetOrIps.some((entry) =>
    entry.includes("/") ? matchSubnet(addr, family, entry) : entry === addr
  );
}
