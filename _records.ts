/**
 * The record layer's primitives (the format is in docs/secret.md): keys
 * derived from the CPace session key with HKDF-SHA-256, one per direction and
 * per epoch of {@linkcode RECORDS_PER_KEY} records; AES-256-GCM records with
 * a 5-byte header (type, ciphertext length) authenticated as additional data
 * and an implicit nonce, the record's number in its direction. WebCrypto only.
 *
 * @module
 */
import { concat } from "./_bytes.ts";

/** Record type: application data. */
export const RECORD_DATA = 0x00;
/** Record type: the authenticated end of a direction (empty plaintext). */
export const RECORD_END = 0x01;
/** Bytes of a record header: type (1), ciphertext length (4, big-endian). */
export const HEADER_LENGTH = 5;
/** Bytes of the GCM tag at the end of every ciphertext. */
export const TAG_LENGTH = 16;
/** The most plaintext one record carries: 1 MiB. */
export const MAX_PLAINTEXT = 1 << 20;
/** The longest ciphertext a header may announce. */
export const MAX_CIPHERTEXT = MAX_PLAINTEXT + TAG_LENGTH;
/**
 * Records sealed under one key before the next key of the direction is
 * derived: at most 64 GiB of data per key (2^32 AES blocks), far inside
 * AES-GCM's usage limit.
 */
export const RECORDS_PER_KEY = 1 << 16;
/**
 * The hard limit: records per direction (the nonce is a 64-bit counter, kept
 * below 2^53 so that it is exact in a JavaScript number).
 */
export const MAX_RECORDS = 2 ** 48;

/** Which way the records go: the key label of each direction. */
export type Direction = "active to passive" | "passive to active";

const encoder = new TextEncoder();

/**
 * The HKDF info of a direction's key for an epoch: the label, then the epoch
 * as 4 bytes big-endian.
 */
export function keyInfo(
  direction: Direction,
  epoch: number,
): Uint8Array<ArrayBuffer> {
  const info = new Uint8Array(4);
  new DataView(info.buffer).setUint32(0, epoch);
  return concat(
    encoder.encode(`@transfer/connect records ${direction}`),
    info,
  );
}

/**
 * The raw AES-256 key of `direction` for `epoch`:
 * HKDF-SHA-256(IKM = ISK, salt = sid, info = keyInfo(direction, epoch)).
 */
export async function recordKeyBytes(
  sessionKey: Uint8Array,
  sessionId: Uint8Array,
  direction: Direction,
  epoch: number,
): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(sessionKey),
    "HKDF",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(sessionId),
      info: keyInfo(direction, epoch),
    },
    base,
    256,
  );
  return new Uint8Array(bits);
}

/** Imports a raw AES-256 key for sealing or opening records. */
export function importRecordKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new Uint8Array(raw),
    "AES-GCM",
    false,
    ["encrypt", "decrypt"],
  );
}

/** The nonce of record number `counter`: 4 zero bytes, then 8 big-endian. */
export function recordNonce(counter: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  return nonce;
}

/** The header of a record of `type` carrying `plaintextLength` bytes. */
export function recordHeader(
  type: number,
  plaintextLength: number,
): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(HEADER_LENGTH);
  header[0] = type;
  new DataView(header.buffer).setUint32(1, plaintextLength + TAG_LENGTH);
  return header;
}

/** Seals one record's plaintext: the ciphertext and its tag. */
export async function sealRecord(
  key: CryptoKey,
  counter: number,
  header: Uint8Array<ArrayBuffer>,
  plaintext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: recordNonce(counter), additionalData: header },
      key,
      plaintext as Uint8Array<ArrayBuffer>,
    ),
  );
}

/**
 * Opens one record; rejects (WebCrypto's `OperationError`) when the tag does
 * not match: another key, number, header or ciphertext.
 */
export async function openRecord(
  key: CryptoKey,
  counter: number,
  header: Uint8Array<ArrayBuffer>,
  ciphertext: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: recordNonce(counter), additionalData: header },
      key,
      ciphertext,
    ),
  );
}

/**
 * The keys of one direction, derived epoch by epoch: the key of record
 * `counter` is the key of epoch `counter / RECORDS_PER_KEY`.
 */
export class DirectionKeys {
  #sessionKey: Uint8Array;
  #sessionId: Uint8Array;
  #direction: Direction;
  #recordsPerKey: number;
  #epoch = -1;
  #key: Promise<CryptoKey> | undefined;

  constructor(
    sessionKey: Uint8Array,
    sessionId: Uint8Array,
    direction: Direction,
    recordsPerKey = RECORDS_PER_KEY,
  ) {
    this.#sessionKey = new Uint8Array(sessionKey);
    this.#sessionId = new Uint8Array(sessionId);
    this.#direction = direction;
    this.#recordsPerKey = recordsPerKey;
  }

  /** The key for record number `counter` (derived once per epoch). */
  keyFor(counter: number): Promise<CryptoKey> {
    const epoch = Math.floor(counter / this.#recordsPerKey);
    if (epoch !== this.#epoch || this.#key === undefined) {
      this.#epoch = epoch;
      this.#key = recordKeyBytes(
        this.#sessionKey,
        this.#sessionId,
        this.#direction,
        epoch,
      ).then(importRecordKey);
    }
    return this.#key;
  }
}
