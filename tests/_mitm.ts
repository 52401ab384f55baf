/**
 * An on-path attacker for the tests: a relay over real sockets (TCP or unix)
 * between the two sides that never learns the secret. It records every byte
 * each way, passes the secret exchange through untouched (130 bytes each
 * way, docs/secret.md), then cuts the rest of each direction into records
 * (5-byte header, ciphertext) and lets a test's `tamper` rewrite, drop,
 * replay, reorder them or cut the stream.
 *
 * @module
 */
import { concat } from "../_bytes.ts";
import { writeAll } from "../_io.ts";

/** Bytes each side sends in the secret exchange (hello + share + tag). */
export const EXCHANGE_BYTES = 130;

/** A direction through the relay. */
export type Way = "active to passive" | "passive to active";

/**
 * What to do with one record: the records to send in its place (none drops
 * it), or `"cut"`: send nothing more that way and end it with a FIN (what
 * the sender still sends is read and dropped).
 */
export type Tampering = Uint8Array[] | "cut";

/** Decides the fate of record `index` (0-based, per direction). */
export type Tamper = (way: Way, index: number, record: Uint8Array) => Tampering;

/** Where the relay listens or dials. */
export type Endpoint = { port: number } | { path: string };

async function dial(endpoint: Endpoint): Promise<Deno.Conn> {
  return "path" in endpoint
    ? await Deno.connect({ transport: "unix", path: endpoint.path })
    : await Deno.connect({ hostname: "127.0.0.1", port: endpoint.port });
}

/** Reads a socket in chunks and hands out exactly the bytes asked for. */
class Chunks {
  #conn: Deno.Conn;
  #stash = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Whatever comes next, at most `limit` bytes; null at the end. */
  async some(limit: number): Promise<Uint8Array | null> {
    if (this.#stash.length === 0) {
      const buffer = new Uint8Array(64 * 1024);
      const count = await this.#conn.read(buffer);
      if (count === null) return null;
      this.#stash = buffer.subarray(0, count);
    }
    const taken = this.#stash.subarray(0, limit);
    this.#stash = this.#stash.subarray(taken.length);
    return taken;
  }

  /** Exactly `length` bytes; null at an end before the first. */
  async exactly(length: number): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    let filled = 0;
    while (filled < length) {
      const part = await this.some(length - filled);
      if (part === null) {
        if (filled === 0) return null;
        throw new Error("the stream ended inside a record");
      }
      parts.push(part);
      filled += part.length;
    }
    return concat(...parts);
  }
}

/** The relay: one connection from the active side, one to the passive side. */
export class Mitm implements AsyncDisposable {
  /** Every byte that went each way, as sent by the sides. */
  readonly seen: Record<Way, Uint8Array[]> = {
    "active to passive": [],
    "passive to active": [],
  };
  /** Where the active side connects. */
  readonly endpoint: Endpoint;
  #listener: Deno.Listener;
  #conns: Deno.Conn[] = [];
  #done: Promise<unknown>;

  /**
   * @param listen Where the relay listens (port 0: any).
   * @param target The passive side.
   * @param tamper What to do with each record.
   * @param records `false`: pass the bytes after the exchange through as
   * they come, without cutting them into records (a plain stream).
   */
  constructor(
    listen: Endpoint,
    target: Endpoint,
    tamper?: Tamper,
    readonly records = true,
  ) {
    this.#listener = "path" in listen
      ? Deno.listen({ transport: "unix", path: listen.path })
      : Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.endpoint = "path" in listen
      ? listen
      : { port: (this.#listener.addr as Deno.NetAddr).port };
    this.#done = this.#run(target, tamper ?? ((_, __, record) => [record]));
    this.#done.catch(() => {});
  }

  /** All bytes seen either way. */
  wire(): Uint8Array {
    return concat(
      ...this.seen["active to passive"],
      ...this.seen["passive to active"],
    );
  }

  async #run(target: Endpoint, tamper: Tamper): Promise<void> {
    const from = await this.#listener.accept();
    this.#listener.close();
    this.#conns.push(from);
    const to = await dial(target);
    this.#conns.push(to);
    await Promise.allSettled([
      this.#pipe(from, to, "active to passive", tamper),
      this.#pipe(to, from, "passive to active", tamper),
    ]);
  }

  async #pipe(
    source: Deno.Conn,
    sink: Deno.Conn,
    way: Way,
    tamper: Tamper,
  ): Promise<void> {
    try {
      const input = new Chunks(source);
      // The exchange, passed through as it comes (it takes turns).
      for (let passed = 0; passed < EXCHANGE_BYTES;) {
        const part = await input.some(EXCHANGE_BYTES - passed);
        if (part === null) return await sink.closeWrite();
        this.seen[way].push(part.slice());
        await writeAll(sink, part);
        passed += part.length;
      }
      while (!this.records) {
        const part = await input.some(64 * 1024);
        if (part === null) return await sink.closeWrite();
        this.seen[way].push(part.slice());
        await writeAll(sink, part);
      }
      for (let index = 0;; index++) {
        const header = await input.exactly(5);
        if (header === null) break;
        const length = new DataView(header.buffer, header.byteOffset)
          .getUint32(1);
        const body = await input.exactly(length) ?? new Uint8Array(0);
        const record = concat(header, body);
        this.seen[way].push(record);
        const fate = tamper(way, index, record);
        if (fate === "cut") {
          // The receiver gets a FIN; the sender is still read (and its
          // bytes dropped), so that it is never stuck writing.
          await sink.closeWrite();
          while (await input.some(64 * 1024) !== null) {
            // Dropped.
          }
          return;
        }
        for (const sent of fate) await writeAll(sink, sent);
      }
      await sink.closeWrite();
    } catch {
      // A side closed or reset: end the other side too.
      for (const conn of this.#conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Closed after the accept.
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await this.#done.catch(() => {});
  }
}

/** Flips one bit of a record's ciphertext. */
export function flipBit(record: Uint8Array, offset = 7): Uint8Array {
  const copy = record.slice();
  copy[Math.min(offset, copy.length - 1)] ^= 0x01;
  return copy;
}

/** Whether `needle` occurs in `haystack` (candidates found with `indexOf`). */
export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  const first = needle[0];
  for (
    let index = haystack.indexOf(first);
    index !== -1 && index + needle.length <= haystack.length;
    index = haystack.indexOf(first, index + 1)
  ) {
    let match = true;
    for (let offset = 1; offset < needle.length && match; offset++) {
      match = haystack[index + offset] === needle[offset];
    }
    if (match) return true;
  }
  return false;
}
