/**
 * The main job on an embedded default: a passive and an active connector in
 * one process on loopback move 64 MiB (or `--mib N`), check a SHA-256 on both
 * ends, and print the port, the bytes, the throughput and the permissions used.
 *
 * Run with `deno task demo`.
 *
 * @module
 */
import { Connector, permissionFlags } from "../mod.ts";

const mibFlag = Deno.args.indexOf("--mib");
const mebibytes = mibFlag >= 0 ? Number(Deno.args[mibFlag + 1]) : 64;
if (!Number.isInteger(mebibytes) || mebibytes < 1) {
  console.error("demo: --mib expects a whole number of MiB, e.g. --mib 64");
  Deno.exit(2);
}
const total = mebibytes * 1024 * 1024;
const payload = new Uint8Array(total);
for (let offset = 0; offset < total; offset += 65536) {
  crypto.getRandomValues(payload.subarray(offset, offset + 65536));
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  )
    .join("");
}

await using passive = new Connector({
  mode: "passive",
  host: "127.0.0.1",
  timeout: 10_000,
});
const { port } = await passive.listen() as Deno.NetAddr;
console.log(`passive: listening on 127.0.0.1:${port} (asked for port 0)`);
const active = new Connector({ host: "127.0.0.1", port, timeout: 10_000 });

const started = performance.now();
const [client, server] = await Promise.all([
  active.connect(),
  passive.connect(),
]);
const setupMs = performance.now() - started;
console.log(`connected in ${setupMs.toFixed(2)} ms; the listener is closed`);

async function send(): Promise<void> {
  let written = 0;
  while (written < total) {
    written += await client.write(
      payload.subarray(written, written + 256 * 1024),
    );
  }
  client.closeWrite();
}

async function receive(): Promise<Uint8Array<ArrayBuffer>> {
  const received = new Uint8Array(total + 1);
  let filled = 0;
  while (filled <= total) {
    const count = await server.read(
      received.subarray(filled, filled + 256 * 1024),
    );
    if (count === null) break;
    filled += count;
  }
  return received.subarray(0, filled);
}

const transferStart = performance.now();
const [, received] = await Promise.all([send(), receive()]);
const seconds = (performance.now() - transferStart) / 1000;
client.close();
server.close();

const [sentDigest, receivedDigest] = await Promise.all([
  sha256(payload),
  sha256(received),
]);
const bytes = received.length;
console.log(
  `moved ${bytes} bytes in ${seconds.toFixed(3)} s: ${
    (bytes / 1e6 / seconds).toFixed(0)
  } MB/s`,
);
console.log(`sha256 sent     ${sentDigest}`);
console.log(`sha256 received ${receivedDigest}`);
console.log(
  `permissions: passive ${
    permissionFlags(passive.permissions).join(" ")
  }, active ${permissionFlags(active.permissions).join(" ")}`,
);
if (sentDigest !== receivedDigest || bytes !== total) {
  console.error("demo: FAILED, the digests differ");
  Deno.exit(1);
}
console.log("demo: OK, the digests match");
