/**
 * Helpers shared by the tests: free ports, a listener whose backlog is full
 * (to test timeouts without dialling unroutable addresses), reading helpers.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { concat as concatBytes } from "../_bytes.ts";
import { readUpTo, writeAll } from "../_io.ts";
import { Connector, type ConnectorOptions } from "../mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A passive connector holding `secret`, on 127.0.0.1 with a bound port (10 s
 * timeout unless `options` says otherwise).
 */
export async function secretListener(
  secret: string,
  options: Partial<ConnectorOptions> = {},
): Promise<{ passive: Connector; port: number }> {
  const passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    timeout: 10_000,
    secret,
    ...options,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  return { passive, port };
}

/** A loopback port that was free a moment ago (bound, then released). */
export function freePort(hostname = "127.0.0.1"): number {
  using listener = Deno.listen({ hostname, port: 0 });
  return listener.addr.port;
}

/** Whether this machine has IPv6 loopback. */
export function hasIPv6(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * A TCP listener on 127.0.0.1 that never accepts and whose accept queue is
 * full, so that any further connect hangs until its own timeout. It runs in a
 * `node` child process (backlog 1, event loop blocked); the queued
 * connections are held here.
 */
export async function fullBacklogListener(): Promise<
  { port: number } & AsyncDisposable
> {
  const script = `
    const server = require("node:net").createServer();
    server.listen({ host: "127.0.0.1", port: 0, backlog: 1 }, () => {
      // Print (synchronously), then block the event loop before it can
      // accept anything: once the port is known, nothing is ever accepted.
      require("node:fs").writeSync(1, server.address().port + "\\n");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
      process.exit(0);
    });`;
  const child = new Deno.Command("node", {
    args: ["-e", script],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("node exited before listening");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const port = Number(text.trim());
  const queued: Deno.Conn[] = [];
  // Backlog 1 admits two queued connections; the third SYN would be dropped.
  for (let index = 0; index < 2; index++) {
    queued.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  return {
    port,
    async [Symbol.asyncDispose]() {
      for (const conn of queued) conn.close();
      child.kill();
      await child.status;
      await child.stdout.cancel();
    },
  };
}

/** Reads exactly `length` bytes, or throws if the stream ends first. */
export async function readExactly(
  conn: Deno.Conn,
  length: number,
): Promise<Uint8Array> {
  const bytes = await readUpTo(conn, length);
  if (bytes.length < length) {
    throw new Error(`stream ended after ${bytes.length} of ${length} bytes`);
  }
  return bytes;
}

/** Joins chunks into one array. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  return concatBytes(...chunks);
}

/** Reads until the peer closes (EOF) and returns everything read. */
export async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) break;
    chunks.push(buffer.slice(0, count));
  }
  return concat(chunks);
}

/** The absolute path of a TLS fixture in tests/fixtures/. */
export function fixturePath(name: string): string {
  return new URL(`./fixtures/${name}`, import.meta.url).pathname;
}

/** The text of a TLS fixture in tests/fixtures/ (a PEM file). */
export function fixture(name: string): string {
  return Deno.readTextFileSync(fixturePath(name));
}

/** The test CA (PEM) that signed the fixture certificates. */
export const TEST_CA: string = fixture("ca.pem");

/** Certificate and key of a server valid for localhost, 127.0.0.1 and ::1. */
export const LOCALHOST_TLS: { cert: string; key: string } = {
  cert: fixture("localhost.pem"),
  key: fixture("localhost.key.pem"),
};

/** Writes all of `data`: the library's own (_io.ts). */
export { writeAll };

/** Whether a TCP connect to `port` on 127.0.0.1 is refused. */
export async function isRefused(
  port: number,
  hostname = "127.0.0.1",
): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return true;
    throw error;
  }
}

/** Waits for `promise`, failing with `what` after `ms` milliseconds. */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: still pending after ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every 5 ms until it holds, failing after `ms`. */
export async function waitUntil(
  condition: () => boolean,
  ms: number,
  what: string,
): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited >= ms) throw new Error(`${what}: not true after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Asserts that the other end of `conn` has closed it: reading drains whatever
 * it sent (a ClientHello, a TLS alert) and then ends or fails (a reset, a
 * failed TLS handshake) within `ms`. A peer still open after `ms` fails.
 */
export async function assertPeerClosed(
  conn: Deno.Conn,
  what: string,
  ms = 5000,
): Promise<void> {
  const drain = async () => {
    const buffer = new Uint8Array(16 * 1024);
    try {
      while (await conn.read(buffer) !== null) {
        // Discard what the peer sent before it closed.
      }
    } catch {
      // A reset or a failed TLS handshake: closed as well.
    }
  };
  await withDeadline(drain(), ms, what);
}

/** Sends a byte each way over a connection pair and checks both arrive. */
export async function assertLive(a: Deno.Conn, b: Deno.Conn): Promise<void> {
  await writeAll(a, encoder.encode("a"));
  await writeAll(b, encoder.encode("b"));
  const [fromA, fromB] = await withDeadline(
    Promise.all([readExactly(b, 1), readExactly(a, 1)]),
    5000,
    "exchanging a byte",
  );
  assertEquals(decoder.decode(fromA) + decoder.decode(fromB), "ab");
}

/** Random bytes of any length (crypto.getRandomValues is limited to 64 KiB). */
export function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}

/** A small seeded generator (mulberry32): the same inputs every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Local port of each TCP socket inode (IPv4 table; the tests use 127.0.0.1). */
function localPorts(): Map<string, number> {
  const ports = new Map<string, number>();
  const lines = Deno.readTextFileSync("/proc/self/net/tcp").split("\n");
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const [, local, remote] = fields;
    if (remote.endsWith(":0000")) continue; // a listening socket
    ports.set(fields[9], parseInt(local.split(":")[1], 16));
  }
  return ports;
}

/**
 * Connected TCP sockets this process holds whose local port is `port`: the
 * accepted ends of a listener on that port (IPv4; reading /proc/self/net/tcp
 * takes -A). Descriptors the runtime opens for itself do not count.
 */
export function heldSockets(port: number): number {
  const ports = localPorts();
  let held = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      continue; // closed meanwhile (the directory's own descriptor)
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined && ports.get(inode) === port) held++;
  }
  return held;
}
