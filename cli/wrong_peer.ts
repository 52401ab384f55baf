/**
 * The usual forgotten flag, caught by the first bytes a plain connection
 * (no `--tls`, no secret) receives, before any of them reaches the output:
 * a TLS alert record (the peer is a TLS listener: `--tls` was forgotten), a
 * TLS ClientHello (the peer connected with `--tls`), or the notice of a
 * listener that expects a code (`--code` was forgotten).
 *
 * @module
 */
import { PLAIN_NOTICE } from "../auth.ts";
import { withRead } from "../internal.ts";

const NOTICE: Uint8Array = new TextEncoder().encode(PLAIN_NOTICE);
/** TLS record content types (RFC 8446 section 5.1). */
const ALERT = 0x15;
const HANDSHAKE = 0x16;
/** The handshake message type of a ClientHello. */
const CLIENT_HELLO = 0x01;

/** What the first bytes show: a mistake, plain data, or not yet known. */
type Verdict = "alert" | "client-hello" | "notice" | "data" | "undecided";

/** Whether `bytes` is a prefix of `pattern`, or `pattern` a prefix of `bytes`. */
function agrees(bytes: Uint8Array, pattern: ArrayLike<number>): boolean {
  const length = Math.min(bytes.length, pattern.length);
  for (let index = 0; index < length; index++) {
    if (bytes[index] !== pattern[index]) return false;
  }
  return true;
}

/** A TLS record header: type, version 3.x (x ≤ 4), a plausible length. */
function tlsRecord(bytes: Uint8Array, type: number): Verdict | "no" {
  if (bytes[0] !== type) return "no";
  if (bytes.length >= 2 && bytes[1] !== 0x03) return "no";
  if (bytes.length >= 3 && bytes[2] > 0x04) return "no";
  if (bytes.length < 5) return "undecided";
  const length = (bytes[3] << 8) | bytes[4];
  if (type === ALERT) return length === 2 ? "alert" : "no";
  if (length === 0 || length > 16384) return "no";
  if (bytes.length < 6) return "undecided";
  return bytes[5] === CLIENT_HELLO ? "client-hello" : "no";
}

/**
 * Classifies the first bytes a plain connection received.
 *
 * @example Usage
 * ```ts
 * import { classifyFirstBytes } from "./wrong_peer.ts";
 * import { assertEquals } from "@std/assert";
 *
 * // A fatal decode_error alert, as a TLS listener answers plain text.
 * assertEquals(classifyFirstBytes(Uint8Array.of(21, 3, 3, 0, 2, 2, 50)), "alert");
 * assertEquals(classifyFirstBytes(new TextEncoder().encode("hello")), "data");
 * assertEquals(classifyFirstBytes(Uint8Array.of(21, 3)), "undecided");
 * ```
 *
 * @param bytes Everything received so far (at least one byte).
 * @returns The verdict; `"undecided"` until enough bytes arrived.
 */
export function classifyFirstBytes(bytes: Uint8Array): Verdict {
  for (const type of [ALERT, HANDSHAKE]) {
    const verdict = tlsRecord(bytes, type);
    if (verdict !== "no") return verdict;
  }
  if (agrees(bytes, NOTICE)) {
    return bytes.length >= NOTICE.length ? "notice" : "undecided";
  }
  return "data";
}

/** The peer is not what a plain connection expects: the CLI exits 1. */
export class WrongPeerError extends Error {
  /**
   * @param message What the peer is and which flag to add.
   */
  constructor(message: string) {
    super(message);
    this.name = "WrongPeerError";
  }
}

function mistakeOf(verdict: Verdict, peer: string): WrongPeerError {
  switch (verdict) {
    case "alert":
      return new WrongPeerError(
        `${peer} answered with a TLS alert: it is a TLS listener; add --tls (and --ca FILE if its certificate is not from a public CA)`,
      );
    case "client-hello":
      return new WrongPeerError(
        `${peer} started a TLS handshake: it runs with --tls; add --tls (listen: with --cert FILE --key FILE)`,
      );
    default:
      return new WrongPeerError(
        `${peer} is a listener that expects a code: add --code (you are asked for the code) or give the secret with --secret-file or --secret-env`,
      );
  }
}

/**
 * Watches the first bytes `conn` receives. `conn` is what the transfer uses
 * in place of the connection: its reads hold the first bytes back until they
 * are known to be data; a mistake is thrown from the read (and kept in
 * {@linkcode WrongPeerWatch.mistake}), so none of it reaches the output.
 */
export class WrongPeerWatch {
  /** The connection to use instead of the original one. */
  readonly conn: Deno.Conn;
  /** The mistake, once the first bytes showed one. */
  mistake: WrongPeerError | undefined;
  #held = new Uint8Array(0);
  #decided = false;
  #ended = false;

  /**
   * @param conn A plain connection (no TLS, no secret), before any read.
   * @param peer The peer's address, for messages.
   */
  constructor(conn: Deno.Conn, peer: string) {
    // Once the first bytes are known to be data and handed out, reads go
    // straight to the connection: no extra promise per chunk.
    this.conn = withRead(
      conn,
      (buffer) =>
        this.#decided && this.#held.length === 0 && !this.#ended
          ? conn.read(buffer)
          : this.#read(conn, peer, buffer),
    );
  }

  #handOut(buffer: Uint8Array): number | null {
    if (this.#held.length === 0) return null; // only at the end
    const count = Math.min(buffer.length, this.#held.length);
    buffer.set(this.#held.subarray(0, count));
    this.#held = this.#held.subarray(count);
    return count;
  }

  async #read(
    conn: Deno.Conn,
    peer: string,
    buffer: Uint8Array,
  ): Promise<number | null> {
    if (this.#decided) return this.#handOut(buffer); // held bytes, or the end
    while (true) {
      const chunk = new Uint8Array(Math.max(buffer.length, NOTICE.length));
      const count = await conn.read(chunk);
      if (count === null) {
        this.#decided = this.#ended = true;
        return this.#handOut(buffer);
      }
      const held = new Uint8Array(this.#held.length + count);
      held.set(this.#held);
      held.set(chunk.subarray(0, count), this.#held.length);
      this.#held = held;
      const verdict = classifyFirstBytes(held);
      if (verdict === "undecided") continue;
      this.#decided = true;
      if (verdict !== "data") {
        this.mistake = mistakeOf(verdict, peer);
        throw this.mistake;
      }
      return this.#handOut(buffer);
    }
  }
}
