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

/** -1, 0 or 1 as `a` is below, equal to or above `b` (`width` words from `at`). */
function compareWords(
  a: ArrayLike<number>,
  aAt: number,
  b: ArrayLike<number>,
  bAt: number,
  width: number,
): number {
  for (let word = 0; word < width; word++) {
    const x = a[aAt + word], y = b[bAt + word];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Ranges as they are collected: bounds of `width` words each, in growing buffers. */
class RangeBuilder {
  #first = new Uint32Array(64);
  #last = new Uint32Array(64);
  #length = 0;
  constructor(readonly width: 1 | 4) {}

  add(first: ArrayLike<number>, last: ArrayLike<number>): void {
    if (this.#length + this.width > this.#first.length) {
      const first = new Uint32Array(this.#first.length * 2);
      const last = new Uint32Array(this.#last.length * 2);
      first.set(this.#first);
      last.set(this.#last);
      this.#first = first;
      this.#last = last;
    }
    copyWords(first, 0, this.#first, this.#length, this.width);
    copyWords(last, 0, this.#last, this.#length, this.width);
    this.#length += this.width;
  }

  /** Sorts by start and merges overlapping or adjacent ranges. */
  build(): RangeTable {
    const { width } = this;
    const first = this.#first;
    const last = this.#last;
    const count = this.#length / width;
    const order = new Uint32Array(count).map((_, index) => index * width);
    order.sort((a, b) => compareWords(first, a, first, b, width));
    const mergedFirst = new Uint32Array(this.#length);
    const mergedLast = new Uint32Array(this.#length);
    let merged = 0; // ranges in the output so far
    for (const at of order) {
      const previous = (merged - 1) * width;
      if (merged > 0 && touches(mergedLast, previous, first, at, width)) {
        if (compareWords(last, at, mergedLast, previous, width) > 0) {
          copyWords(last, at, mergedLast, previous, width);
        }
        continue;
      }
      copyWords(first, at, mergedFirst, merged * width, width);
      copyWords(last, at, mergedLast, merged * width, width);
      merged++;
    }
    return {
      first: mergedFirst.slice(0, merged * width),
      last: mergedLast.slice(0, merged * width),
    };
  }
}

function copyWords(
  from: ArrayLike<number>,
  fromAt: number,
  to: Uint32Array,
  toAt: number,
  width: number,
): void {
  for (let word = 0; word < width; word++) {
    to[toAt + word] = from[fromAt + word];
  }
}

/**
 * Whether the range starting at `first[firstAt]` overlaps the one ending at
 * `last[lastAt]` or follows it at once (start = end + 1).
 */
function touches(
  last: Uint32Array,
  lastAt: number,
  first: Uint32Array,
  firstAt: number,
  width: number,
): boolean {
  if (compareWords(first, firstAt, last, lastAt, width) <= 0) return true;
  // first = last + 1: the low words of `last` that are all ones roll over.
  let carry = true;
  for (let word = width - 1; word >= 0; word--) {
    const end = last[lastAt + word];
    const next = carry ? (end + 1) >>> 0 : end;
    if (next !== first[firstAt + word]) return false;
    carry = carry && end === 0xffffffff;
  }
  return !carry;
}

/** Splits an IPv6 range into its IPv4-mapped part (as IPv4) and the rest. */
function splitIPv6(
  first: Words,
  last: Words,
  ipv4: RangeBuilder,
  ipv6: RangeBuilder,
): void {
  if (
    compareWords(last, 0, MAPPED_FIRST, 0, 4) < 0 ||
    compareWords(first, 0, MAPPED_LAST, 0, 4) > 0
  ) {
    ipv6.add(first, last);
    return;
  }
  const startsBefore = compareWords(first, 0, MAPPED_FIRST, 0, 4) < 0;
  const endsAfter = compareWords(last, 0, MAPPED_LAST, 0, 4) > 0;
  ipv4.add([startsBefore ? 0 : first[3]], [endsAfter ? 0xffffffff : last[3]]);
  if (startsBefore) ipv6.add(first, BEFORE_MAPPED);
  if (endsAfter) ipv6.add(AFTER_MAPPED, last);
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
  const ipv4 = new RangeBuilder(1);
  const ipv6 = new RangeBuilder(4);
  for (const entry of entries) {
    const range: AddressRange | undefined = typeof entry === "string"
      ? parseAddressRange(entry)
      : undefined;
    if (range === undefined) throw invalidEntry(entry);
    if (range.version === 4) ipv4.add([range.first], [range.last]);
    else splitIPv6(range.first, range.last, ipv4, ipv6);
  }
  return Object.freeze({ ipv4: ipv4.build(), ipv6: ipv6.build() });
}

/**
 * Whether `value` (`width` words) lies in one of the table's ranges: a binary
 * search for the last range that starts at or before it.
 */
function inTable(
  table: RangeTable,
  value: ArrayLike<number>,
  width: 1 | 4,
): boolean {
  let low = 0;
  let high = table.first.length / width - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (compareWords(table.first, middle * width, value, 0, width) <= 0) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found !== -1 &&
    compareWords(value, 0, table.last, found * width, width) <= 0;
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
    ? inTable(list.ipv4, [address.value], 1)
    : inTable(list.ipv6, address.value, 4);
}
