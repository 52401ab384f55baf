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
  parseAddressRange,
  parsePeerAddress,
  type Words,
} from "./_ip.ts";

/**
 * Sorted, disjoint, non-adjacent ranges. IPv4: `first[i]` and `last[i]`;
 * IPv6: four words per range, `first[4 * i]` to `first[4 * i + 3]`.
 */
interface RangeTable {
  first: Uint32Array;
  last: Uint32Array;
}

/** An allow list compiled by {@linkcode parseAllowList}. */
export interface AllowList {
  /** IPv4 ranges (also for IPv4-mapped IPv6 peers), as 32-bit numbers. */
  readonly ipv4: RangeTable;
  /** IPv6 ranges outside ::ffff:0:0/96, as four 32-bit words each. */
  readonly ipv6: RangeTable;
}

/** The IPv4-mapped IPv6 block ::ffff:0:0/96 (RFC 4291 section 2.5.5.2). */
const MAPPED_FIRST: Words = [0, 0, 0xffff, 0];
const MAPPED_LAST: Words = [0, 0, 0xffff, 0xffffffff];
const BEFORE_MAPPED: Words = [0, 0, 0xfffe, 0xffffffff];
const AFTER_MAPPED: Words = [0, 0, 0x10000, 0];

function invalidEntry(entry: unknown): TypeError {
  const shown = typeof entry === "string"
    ? JSON.stringify(entry)
    : String(entry);
  return new TypeError(
    `Invalid "allow" entry ${shown}: expected an IP address (127.0.0.1, ::1) or a CIDR range (10.0.0.0/8, fd00::/8), without a zone id`,
  );
}

/** -1, 0 or 1 as `a` is below, equal to or above `b` (words from `at`). */
function compareWords(
  a: ArrayLike<number>,
  aAt: number,
  b: ArrayLike<number>,
  bAt: number,
): number {
  for (let word = 0; word < 4; word++) {
    const x = a[aAt + word], y = b[bAt + word];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Whether the range starting at `first` overlaps or follows `last` at once. */
function touches(last: Words, first: Words): boolean {
  if (compareWords(first, 0, last, 0) <= 0) return true;
  // first === last + 1: the low words of `last` that are all ones roll over.
  let carry = true;
  for (let word = 3; word >= 0; word--) {
    const next = carry ? (last[word] + 1) >>> 0 : last[word];
    if (next !== first[word]) return false;
    carry = carry && last[word] === 0xffffffff;
  }
  return !carry;
}

function mergeIPv4(ranges: Array<[number, number]>): RangeTable {
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [first, last] of ranges) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && first <= previous[1] + 1) {
      previous[1] = Math.max(previous[1], last);
    } else merged.push([first, last]);
  }
  return {
    first: Uint32Array.from(merged, (range) => range[0]),
    last: Uint32Array.from(merged, (range) => range[1]),
  };
}

function mergeIPv6(ranges: Array<[Words, Words]>): RangeTable {
  ranges.sort((a, b) => compareWords(a[0], 0, b[0], 0));
  const merged: Array<[Words, Words]> = [];
  for (const [first, last] of ranges) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && touches(previous[1], first)) {
      if (compareWords(last, 0, previous[1], 0) > 0) previous[1] = last;
    } else merged.push([first, last]);
  }
  return {
    first: Uint32Array.from(merged.flatMap((range) => range[0])),
    last: Uint32Array.from(merged.flatMap((range) => range[1])),
  };
}

/** Splits an IPv6 range into its IPv4-mapped part (as IPv4) and the rest. */
function splitIPv6(
  first: Words,
  last: Words,
  ipv4: Array<[number, number]>,
  ipv6: Array<[Words, Words]>,
): void {
  if (
    compareWords(last, 0, MAPPED_FIRST, 0) < 0 ||
    compareWords(first, 0, MAPPED_LAST, 0) > 0
  ) {
    ipv6.push([first, last]);
    return;
  }
  const startsBefore = compareWords(first, 0, MAPPED_FIRST, 0) < 0;
  const endsAfter = compareWords(last, 0, MAPPED_LAST, 0) > 0;
  ipv4.push([startsBefore ? 0 : first[3], endsAfter ? 0xffffffff : last[3]]);
  if (startsBefore) ipv6.push([first, BEFORE_MAPPED]);
  if (endsAfter) ipv6.push([AFTER_MAPPED, last]);
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
  const ipv6: Array<[Words, Words]> = [];
  for (const entry of entries) {
    const range: AddressRange | undefined = typeof entry === "string"
      ? parseAddressRange(entry)
      : undefined;
    if (range === undefined) throw invalidEntry(entry);
    if (range.version === 4) ipv4.push([range.first, range.last]);
    else splitIPv6(range.first, range.last, ipv4, ipv6);
  }
  return Object.freeze({ ipv4: mergeIPv4(ipv4), ipv6: mergeIPv6(ipv6) });
}

/**
 * The index of the last range that starts at or before the address, or -1;
 * `width` is 1 for IPv4 and 4 for IPv6.
 */
function lastStartingAtOrBefore(
  first: Uint32Array,
  width: 1 | 4,
  value: ArrayLike<number>,
): number {
  let low = 0;
  let high = first.length / width - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const order = width === 1
      ? (first[middle] <= value[0] ? -1 : 1)
      : compareWords(first, middle * 4, value, 0);
    if (order <= 0) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found;
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
  if (address.version === 4) {
    const value = [address.value];
    const index = lastStartingAtOrBefore(list.ipv4.first, 1, value);
    return index !== -1 && address.value <= list.ipv4.last[index];
  }
  const index = lastStartingAtOrBefore(list.ipv6.first, 4, address.value);
  return index !== -1 &&
    compareWords(address.value, 0, list.ipv6.last, index * 4) <= 0;
}
