/**
 * CPace, the balanced password-authenticated key exchange of
 * draft-irtf-cfrg-cpace-21, with the suite CPACE-RISTR255-SHA512 (the group
 * ristretto255 of RFC 9496 and SHA-512): the building blocks the secret
 * exchange of `auth.ts` is made of, each named after the draft's function.
 *
 * The group arithmetic comes from `@noble/curves` (audited): decoding,
 * encoding, the element derivation of RFC 9496 and scalar multiplication.
 * SHA-512 and HMAC-SHA-512 come from WebCrypto. Nothing here does curve
 * arithmetic by hand.
 *
 * @module
 */
import { ristretto255, ristretto255_hasher } from "@noble/curves/ed25519.js";
import { concat, lvCat, prependLen } from "./_bytes.ts";

export { concat, lvCat, prependLen };

/** A ristretto255 group element, as `@noble/curves` represents it. */
export type GroupElement = InstanceType<typeof ristretto255.Point>;

/** G_Ristretto255.DSI (§8.3). */
export const DSI: Uint8Array = new TextEncoder().encode("CPaceRistretto255");
/** SHA-512's input block size, H.s_in_bytes (§6.2). */
const HASH_BLOCK_BYTES = 128;
/** Bytes of an encoded group element (G.field_size_bytes). */
export const ELEMENT_BYTES = 32;
/** The group order of ristretto255. */
const GROUP_ORDER = ristretto255.Point.Fn.ORDER;

const encoder = new TextEncoder();

/** generator_string (§8.1, Appendix A.2) for SHA-512's block size. */
export function generatorString(
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const padding = Math.max(
    0,
    HASH_BLOCK_BYTES - 1 - prependLen(prs).length - prependLen(DSI).length,
  );
  return lvCat(DSI, prs, new Uint8Array(padding), ci, sid);
}

/** H.hash with SHA-512: the 64-byte digest. */
export async function sha512(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-512", new Uint8Array(data)),
  );
}

/**
 * G.calculate_generator (§8.3): SHA-512 of the generator string, mapped to
 * the group with RFC 9496's element derivation.
 */
export async function calculateGenerator(
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array,
): Promise<GroupElement> {
  const hash = await sha512(generatorString(prs, ci, sid));
  return ristretto255_hasher.deriveToCurve!(hash);
}

/** Reads a little-endian integer. */
export function scalarFromBytes(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let index = bytes.length - 1; index >= 0; index--) {
    value = (value << 8n) | BigInt(bytes[index]);
  }
  return value;
}

/**
 * G.sample_scalar (§8.3): 32 random bytes with the bits above the group's
 * 252 cleared, read little-endian; never 0.
 */
export function sampleScalar(): bigint {
  const bytes = new Uint8Array(32);
  for (;;) {
    crypto.getRandomValues(bytes);
    bytes[31] &= 0x0f;
    const scalar = scalarFromBytes(bytes);
    if (scalar !== 0n && scalar < GROUP_ORDER) return scalar;
  }
}

/** G.scalar_mult (§8.3): encode(y · g). */
export function scalarMult(
  scalar: bigint,
  generator: GroupElement,
): Uint8Array {
  return generator.multiply(scalar).toBytes();
}

/**
 * G.scalar_mult_vfy (§8.3): encode(y · decode(X)), or `undefined` where the
 * draft returns G.I: X does not decode, or the result is the neutral element.
 */
export function scalarMultVerify(
  scalar: bigint,
  encoded: Uint8Array,
): Uint8Array | undefined {
  let element: GroupElement;
  try {
    element = ristretto255.Point.fromBytes(encoded);
  } catch {
    return undefined;
  }
  if (element.is0()) return undefined;
  const product = element.multiply(scalar);
  return product.is0() ? undefined : product.toBytes();
}

/** transcript_ir (Appendix A.3.4): lv_cat(Ya, ADa) || lv_cat(Yb, ADb). */
export function transcriptIr(
  shareA: Uint8Array,
  dataA: Uint8Array,
  shareB: Uint8Array,
  dataB: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return concat(lvCat(shareA, dataA), lvCat(shareB, dataB));
}

/** The intermediate session key ISK (§7.2), initiator-responder transcript. */
export function intermediateSessionKey(
  sid: Uint8Array,
  point: Uint8Array,
  transcript: Uint8Array,
): Promise<Uint8Array> {
  return sha512(
    concat(
      lvCat(concat(DSI, encoder.encode("_ISK")), sid, point),
      transcript,
    ),
  );
}

/** mac_key = H.hash(b"CPaceMac" || sid || ISK), for key confirmation (§10.4). */
export function confirmationKey(
  sid: Uint8Array,
  sessionKey: Uint8Array,
): Promise<Uint8Array> {
  return sha512(concat(encoder.encode("CPaceMac"), sid, sessionKey));
}

/** The tag of §10.4: HMAC-SHA-512(mac_key, lv_cat(Y, AD)), 64 bytes. */
export async function confirmationTag(
  macKey: Uint8Array,
  share: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(macKey),
    { name: "HMAC", hash: "SHA-512" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", key, lvCat(share, data)),
  );
}
