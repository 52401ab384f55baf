/**
 * Byte-string helpers of the CPace draft (draft-irtf-cfrg-cpace-21, Appendix
 * A.1) that need no group arithmetic: the secret exchange frames its messages
 * with them before the group code (`_cpace.ts`, on `@noble/curves`) is
 * loaded.
 *
 * @module
 */

/** Concatenates byte strings. */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.length;
  const result = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** prepend_len (Appendix A.1.1): the LEB128 length, then the bytes. */
export function prependLen(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const length: number[] = [];
  let remaining = data.length;
  do {
    const low = remaining & 0x7f;
    remaining = Math.floor(remaining / 128);
    length.push(remaining > 0 ? low | 0x80 : low);
  } while (remaining > 0);
  return concat(new Uint8Array(length), data);
}

/** lv_cat (Appendix A.1.3): each argument with its length prepended. */
export function lvCat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return concat(...parts.map(prependLen));
}
