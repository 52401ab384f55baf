/**
 * Helpers shared by the tests: free ports, a listener whose backlog is full
 * (to test timeouts without dialling unroutable addresses), reading helpers.
 *
 * @module
 */

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
      console.log(server.address().port);
      setTimeout(() => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
        process.exit(0);
      }, 20);
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
  await new Promise((resolve) => setTimeout(resolve, 100));
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
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const count = await conn.read(buffer.subarray(filled));
    if (count === null) {
      throw new Error(`stream ended after ${filled} of ${length} bytes`);
    }
    filled += count;
  }
  return buffer;
}

/** Reads until the peer closes (EOF) and returns everything read. */
export async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  let total = 0;
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) break;
    chunks.push(buffer.slice(0, count));
    total += count;
  }
  const result = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}

/** Writes all of `data`. */
export async function writeAll(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += await conn.write(data.subarray(written));
  }
}

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

/** Random bytes of any length (crypto.getRandomValues is limited to 64 KiB). */
export function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  }
  return bytes;
}
