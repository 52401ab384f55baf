/**
 * The passive side's allow-list: which peer addresses may become the
 * counterpart. Entries are IP addresses or CIDR ranges (parsed strictly by
 * `_ip.ts`); the list is compiled once into sorted, merged numeric ranges, so
 * that vetting a peer is one binary search however long the list is.
 *
 * Addresses live in one space, as RFC 4291 section 2.5.5.2 has it: the IPv4
 * address `a.b.c.d` is the IPv6 address `::ffff:a.b.c.d`. So a peer of a
 * dual-stack listener that shows up as `::ffff:127.0.0.1` matches the rule
 * `127.0.0.1`, the rule `::ffff:10.0.0.0/104` is the rule `10.0.0.0/8`, and
 * `::/0` admits every peer.
 *
 * @module
 */
import {
  type AddressRange,
  IPV4_MAPPED_FIRST,
  IPV4_MAPPED_LAST,
  parseAddressRange,
  parsePeerAddress,
} from "./_ip.ts";

/** Sorted, disjoint, non-adjacent ranges: `first[i] <= last[i] < first[i+1] - 1`. */
interface RangeTable<T extends number | bigint> {
  first: ArrayLike<T>;
  last: ArrayLike<T>;
}

/** An allow list compiled by {@linkcode parseAllowList}. */
export interface AllowList {
  /** IPv4 ranges (also for IPv4-mapped IPv6 peers), as 32-bit numbers. */
  readonly ipv4: RangeTable<number>;
  /** IPv6 ranges outside ::ffff:0:0/96, as 128-bit BigInts. */
  readonly ipv6: RangeTable<bigint>;
}

function invalidEntry(entry: unknown): TypeError {
  const shown = typeof entry === "string"
    ? JSON.stringify(entry)
    : String(entry);
  return new TypeError(
    `Invalid "allow" entry ${shown}: expected an IP address (127.0.0.1, ::1) or a CIDR range (10.0.0.0/8, fd00::/8), without a zone id`,
  );
}

/** Sorts ranges by their start and merges overlapping or adjacent ones. */
function merge<T extends number | bigint>(
  ranges: Array<[T, T]>,
  successor: (value: T) => T,
): Array<[T, T]> {
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: Array<[T, T]> = [];
  for (const [first, last] of ranges) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && first <= successor(previous[1])) {
      if (last > previous[1]) previous[1] = last;
    } else merged.push([first, last]);
  }
  return merged;
}

/** Splits a 128-bit range into the IPv4 part (the mapped block) and the rest. */
function splitIPv6(
  first: bigint,
  last: bigint,
  ipv4: Array<[number, number]>,
  ipv6: Array<[bigint, bigint]>,
): void {
  if (last < IPV4_MAPPED_FIRST || first > IPV4_MAPPED_LAST) {
    ipv6.push([first, last]);
    return;
  }
  const mappedFirst = first > IPV4_MAPPED_FIRST ? first : IPV4_MAPPED_FIRST;
  const mappedLast = last < IPV4_MAPPED_LAST ? last : IPV4_MAPPED_LAST;
  ipv4.push([
    Number(mappedFirst - IPV4_MAPPED_FIRST),
    Number(mappedLast - IPV4_MAPPED_FIRST),
  ]);
  if (first < IPV4_MAPPED_FIRST) ipv6.push([first, IPV4_MAPPED_FIRST - 1n]);
  if (last > IPV4_MAPPED_LAST) ipv6.push([IPV4_MAPPED_LAST + 1n, last]);
}

/**
 * Validates allow-list entries and compiles them into sorted, merged numeric
 * ranges.
 *
 * @throws {TypeError} When the list is not an array of strings, or an entry is
 * neither an IP address nor a CIDR range (the error names the entry).
 */
export function parseAllowList(entries: unknown): AllowList {
  if (!Array.isArray(entries)) {
    throw new TypeError(
      `Invalid option "allow": expected an array of IP addresses or CIDR ranges, got ${typeof entries}`,
    );
  }
  const ipv4: Array<[number, number]> = [];
  const ipv6: Array<[bigint, bigint]> = [];
  for (const entry of entries) {
    const range: AddressRange | undefined = typeof entry === "string"
      ? parseAddressRange(entry)
      : undefined;
    if (range === undefined) throw invalidEntry(entry);
    if (range.version === 4) ipv4.push([range.first, range.last]);
    else splitIPv6(range.first, range.last, ipv4, ipv6);
  }
  const merged4 = merge(ipv4, (value) => value + 1);
  const merged6 = merge(ipv6, (value) => value + 1n);
  return Object.freeze({
    ipv4: Object.freeze({
      first: Float64Array.from(merged4, (range) => range[0]),
      last: Float64Array.from(merged4, (range) => range[1]),
    }),
    ipv6: Object.freeze({
      first: Object.freeze(merged6.map((range) => range[0])),
      last: Object.freeze(merged6.map((range) => range[1])),
    }),
  });
}

/** Whether `value` lies in one of the table's ranges (binary search). */
function inTable<T extends number | bigint>(
  table: RangeTable<T>,
  value: T,
): boolean {
  // The last range that starts at or before `value`.
  let low = 0;
  let high = table.first.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (table.first[middle] <= value) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found !== -1 && value <= table.last[found];
}

/**
 * Whether a peer's address is admitted by a list made with
 * {@linkcode parseAllowList}. Non-IP peers (unix sockets) never match.
 */
export function isAllowed(addr: Deno.Addr, list: AllowList): boolean {
  const hostname = (addr as Partial<Deno.NetAddr>).hostname;
  if (typeof hostname !== "string") return false;
  const address = parsePeerAddress(hostname);
  if (address === undefined) return false;
  return address.version === 4
    ? inTable(list.ipv4, address.value)
    : inTable(list.ipv6, address.value);
}
