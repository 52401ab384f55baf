/**
 * Strict parsers for the addresses a connector is given: host names, IPv4 and
 * IPv6 addresses and CIDR ranges. Written out here rather than taken from
 * `@std/net`, whose `isIPv4`/`isIPv6` accept `"1.2.3."`, `"0x7f.0.0.1"` or
 * `":"` and whose `matchSubnets` accepts prefixes such as `+8` or `8.5`.
 *
 * What is accepted:
 * - IPv4: a dotted quad of decimal numbers 0-255 without leading zeros
 *   (`127.0.0.1`; not `127.1`, `0x7f.0.0.1`, `010.0.0.1`, ` 1.2.3.4`).
 * - IPv6: the text forms of RFC 4291 section 2.2: eight groups of 1-4 hex
 *   digits, one `::` for one or more zero groups, an IPv4 address in the last
 *   32 bits (`::ffff:127.0.0.1`).
 * - Host names: RFC 1123 labels (letters, digits and inner hyphens, 1-63
 *   characters each, 253 in all), an optional trailing dot; a name that
 *   ends in a number (`1.2.3`, `0x7f`, `1.0x7f`, `example.123`) is refused:
 *   the system resolver would take some of these for an IPv4 address in
 *   another form, and no top-level domain is numeric (RFC 3696 section 2).
 * - Brackets around an IPv6 address, in a host or an allow entry (`[::1]`).
 * - Zone ids (`fe80::1%eth0`): in a host only (Deno dials them and its
 *   `--allow-net` names them); never in an allow entry, which names addresses
 *   rather than interfaces. A peer's zone id is ignored when it is matched.
 * - CIDR prefixes: a decimal integer without sign or leading zeros, 0-32 for
 *   IPv4 and 0-128 for IPv6 (`10.0.0.0/8`; not `/+8`, `/8.5`, `/ 8`, `/08`).
 *
 * @module
 */

/** A host as the connector dials or binds it. */
export interface ParsedHost {
  /** What the host is. */
  kind: "name" | "ipv4" | "ipv6";
  /** The host without brackets, as Deno's APIs take it (zone id kept). */
  hostname: string;
}

/**
 * A 128-bit IPv6 address as four 32-bit words, most significant first: the
 * allow list compares and sorts these without BigInt arithmetic.
 */
export type Words = [number, number, number, number];

/**
 * An address range: IPv4 ranges as 32-bit numbers, IPv6 ranges as
 * {@linkcode Words}; `first` and `last` are both inside the range.
 */
export type AddressRange =
  | { version: 4; first: number; last: number }
  | { version: 6; first: Words; last: Words };

/** A single address: IPv4 as a 32-bit number, IPv6 as {@linkcode Words}. */
export type Address =
  | { version: 4; value: number }
  | { version: 6; value: Words };

const ZONE_ID = /^[0-9A-Za-z._~-]{1,64}$/;
const LABEL = /^[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?$/;
const NUMERIC_LABEL = /^(?:0x[0-9A-Fa-f]*|[0-9]+)$/i;
const PREFIX = /^(?:0|[1-9][0-9]{0,2})$/;
const MAX_NAME_LENGTH = 253;

/**
 * `a.b.c.d` as a 32-bit number, or undefined when it is not a dotted quad:
 * four decimal octets 0-255 without leading zeros, read in one pass (every
 * connector parses its host; a pattern match and a split cost more).
 */
export function parseIPv4(text: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === 46) { // "."
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      dots++;
      octet = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) { // 0-9
      if (digits === 1 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + code - 48;
      if (octet > 255) return undefined;
      digits++;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + octet;
}

/** The value of a hex digit's character code, or -1. */
function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/**
 * The eight 16-bit groups of an IPv6 address in a text form of RFC 4291 (no
 * brackets, no zone id), or undefined when it is not one.
 */
export function parseIPv6Groups(text: string): number[] | undefined {
  const head: number[] = [];
  const tail: number[] = [];
  let groups = head;
  let compressed = false;
  let index = 0;
  if (text.startsWith("::")) {
    compressed = true;
    groups = tail;
    index = 2;
  } else if (text.startsWith(":")) return undefined;
  while (index < text.length) {
    // One group: 1-4 hex digits, or an IPv4 address that ends the text.
    let value = 0;
    let digits = 0;
    let end = index;
    for (; end < text.length && digits <= 4; end++, digits++) {
      const digit = hexDigit(text.charCodeAt(end));
      if (digit === -1) break;
      value = value * 16 + digit;
    }
    if (end < text.length && text[end] === ".") {
      const ipv4 = parseIPv4(text.slice(index));
      if (ipv4 === undefined) return undefined;
      groups.push(Math.floor(ipv4 / 0x10000), ipv4 % 0x10000);
      index = text.length;
      break;
    }
    if (digits === 0 || digits > 4) return undefined;
    groups.push(value);
    if (end === text.length) {
      index = end;
      break;
    }
    if (text[end] !== ":") return undefined;
    if (text[end + 1] === ":") {
      if (compressed) return undefined;
      compressed = true;
      groups = tail;
      index = end + 2;
    } else {
      index = end + 1;
      if (index === text.length) return undefined; // a trailing single ":"
    }
  }
  const count = head.length + tail.length;
  if (compressed ? count > 7 : count !== 8) return undefined;
  if (!compressed) return head;
  return [...head, ...new Array(8 - count).fill(0), ...tail];
}

/**
 * An IPv6 address in a text form of RFC 4291 (no brackets, no zone id) as
 * {@linkcode Words}, or undefined when it is not one.
 */
export function parseIPv6(text: string): Words | undefined {
  const groups = parseIPv6Groups(text);
  if (groups === undefined) return undefined;
  return [
    groups[0] * 0x10000 + groups[1],
    groups[2] * 0x10000 + groups[3],
    groups[4] * 0x10000 + groups[5],
    groups[6] * 0x10000 + groups[7],
  ];
}

/** The mask of a word's bits inside a prefix of `bits` bits. */
function wordMask(bits: number, word: number): number {
  const inside = Math.min(32, Math.max(0, bits - 32 * word));
  return inside === 0 ? 0 : (0xffffffff << (32 - inside)) >>> 0;
}

/** Strips one pair of brackets around an IPv6 literal (`[::1]` → `::1`). */
function unbracket(text: string): string | undefined {
  if (!text.startsWith("[") && !text.endsWith("]")) return text;
  if (!text.startsWith("[") || !text.endsWith("]")) return undefined;
  const inner = text.slice(1, -1);
  return inner.includes(":") ? inner : undefined;
}

/** Whether `text` is a host name of RFC 1123 labels, not a number in disguise. */
export function isHostName(text: string): boolean {
  const name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  const labels = name.split(".");
  if (!labels.every((label) => LABEL.test(label))) return false;
  // "1.2.3", "0x7f", "1.0x7f" or "example.123": a resolver would read an
  // address, or a top-level name that cannot exist (RFC 3696 section 2).
  return !NUMERIC_LABEL.test(labels[labels.length - 1]);
}

/**
 * A connector's `host`: a host name, an IPv4 address, or an IPv6 address
 * with or without brackets and with an optional zone id. Undefined when it
 * is none of these.
 */
export function parseHost(text: string): ParsedHost | undefined {
  if (parseIPv4(text) !== undefined) return { kind: "ipv4", hostname: text };
  const inner = unbracket(text);
  if (inner === undefined) return undefined;
  const percent = inner.indexOf("%");
  const address = percent === -1 ? inner : inner.slice(0, percent);
  if (
    parseIPv6(address) !== undefined &&
    (percent === -1 || ZONE_ID.test(inner.slice(percent + 1)))
  ) {
    return { kind: "ipv6", hostname: inner };
  }
  return inner === text && isHostName(text)
    ? { kind: "name", hostname: text }
    : undefined;
}

/**
 * An allow entry: an IPv4 or IPv6 address (brackets allowed, no zone id),
 * optionally followed by `/PREFIX`. Host bits beyond the prefix are ignored
 * (`10.1.2.3/8` is `10.0.0.0/8`). Undefined when it is not one.
 */
export function parseAddressRange(text: string): AddressRange | undefined {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  if (prefixText !== undefined && !PREFIX.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? undefined : Number(prefixText);
  const ipv4 = parseIPv4(addressText);
  if (ipv4 !== undefined) {
    const bits = prefix ?? 32;
    if (bits > 32) return undefined;
    const size = 2 ** (32 - bits);
    const first = ipv4 - (ipv4 % size);
    return { version: 4, first, last: first + size - 1 };
  }
  const inner = unbracket(addressText);
  const ipv6 = inner === undefined ? undefined : parseIPv6(inner);
  if (ipv6 === undefined) return undefined;
  const bits = prefix ?? 128;
  if (bits > 128) return undefined;
  const first = ipv6.map((word, index) =>
    (word & wordMask(bits, index)) >>> 0
  ) as Words;
  const last = ipv6.map((word, index) =>
    (word | ~wordMask(bits, index)) >>> 0
  ) as Words;
  return { version: 6, first, last };
}

/**
 * A peer's address as reported by Deno (`127.0.0.1`, `::1`, `fe80::1%2`):
 * IPv4-mapped IPv6 addresses become IPv4, a zone id is dropped. Undefined
 * when it is not an IP address.
 */
export function parsePeerAddress(text: string): Address | undefined {
  const ipv4 = parseIPv4(text);
  if (ipv4 !== undefined) return { version: 4, value: ipv4 };
  const percent = text.indexOf("%");
  const ipv6 = parseIPv6(percent === -1 ? text : text.slice(0, percent));
  if (ipv6 === undefined) return undefined;
  if (ipv6[0] === 0 && ipv6[1] === 0 && ipv6[2] === 0xffff) {
    return { version: 4, value: ipv6[3] };
  }
  return { version: 6, value: ipv6 };
}
