/**
 * OFFLINE STAND-IN for `jsr:@std/net/unstable-ip` (see offline/README.md):
 * `isIPv4` and `isIPv6` with the rules of `@std/net` 1.0.6 (its source was
 * read, not copied) and, like it, no `node:` import. The project uses them in
 * transport.ts only, on hosts that `_ip.ts` has already validated strictly.
 * Not published.
 *
 * The real functions are lenient, and so is this copy of their rules:
 * `isIPv4` checks that there are four dot-separated parts whose `Number()` is
 * 0-255 (so `"1.2.3."`, `"..."`, `"0x7f.0.0.1"` and `" 1.2.3.4"` pass);
 * `isIPv6` reads each group with `parseInt(group, 16)` (so `""`, `":"` and
 * `"1g::"` pass). offline/std/standins_test.ts pins both.
 *
 * @module
 */

/** Whether `addr` passes `@std/net`'s IPv4 check (lenient, see above). */
export function isIPv4(addr: string): boolean {
  const parts = addr.split(".");
  if (parts.length !== 4) return false;
  return parts.every((part) => {
    const value = Number(part);
    return !Number.isNaN(value) && value >= 0 && value <= 255;
  });
}

/** Whether `addr` passes `@std/net`'s IPv6 check (lenient, see above). */
export function isIPv6(addr: string): boolean {
  if (addr.split("::").length > 2) return false;
  const groups = addr.split(":");
  if (addr.includes(".")) {
    // An IPv4 tail stands for two groups; a bare IPv4 address is not IPv6.
    const tail = groups.pop();
    if (groups.length === 0 || !tail || !isIPv4(tail)) return false;
    groups.push("");
  }
  // Each empty group may stand for more zero groups, up to eight in all.
  while (groups.length < 8) {
    const empty = groups.indexOf("");
    if (empty === -1) break;
    groups.splice(empty, 0, "");
  }
  return groups.length === 8 &&
    groups.every((group) => {
      const value = group === "" ? 0 : parseInt(group, 16);
      return !Number.isNaN(value) && value >= 0 && value <= 0xffff;
    });
}
