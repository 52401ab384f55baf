/**
 * Library throughput of one connection, three ways, over loopback in one
 * process: a plain TCP pair, the encrypted stream of a pair with a secret
 * (`EncryptedConn`, AES-256-GCM records) and a TLS pair. Each round moves
 * the same bytes one way with 256 KiB writes, `closeWrite()`, and a receiver
 * that reads to the end; the kinds run interleaved (round 1 of each, then
 * round 2, ...), so that other work on the machine hits them alike. The
 * pair's set-up is outside the clock. Prints medians and ratios as Markdown.
 *
 * ```sh
 * deno run --import-map=offline/import_map.json -A bench/encrypted_stream.ts [--mib 256] [--rounds 5]
 * ```
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { Connector } from "../mod.ts";
import { writeAll } from "../_io.ts";

const fixture = (name: string): string =>
  Deno.readTextFileSync(new URL(`../tests/fixtures/${name}`, import.meta.url));

type Kind = "plain TCP" | "secret: encrypted records" | "TLS";
const KINDS: Kind[] = ["plain TCP", "secret: encrypted records", "TLS"];
const SECRET = "00-bench-bench-bench-bench";

/** A connected pair of the kind, set up by two Connectors. */
async function pair(kind: Kind): Promise<[Deno.Conn, Deno.Conn]> {
  const tls = kind === "TLS";
  const passive = new Connector({
    mode: "passive",
    host: tls ? "localhost" : "127.0.0.1",
    ...(tls
      ? {
        tls: {
          cert: fixture("localhost.pem"),
          key: fixture("localhost.key.pem"),
        },
      }
      : {}),
    ...(kind === "secret: encrypted records" ? { secret: SECRET } : {}),
  });
  try {
    const { port } = await passive.listen() as Deno.NetAddr;
    const active = new Connector({
      host: tls ? "localhost" : "127.0.0.1",
      port,
      ...(tls ? { tls: { caCerts: [fixture("ca.pem")] } } : {}),
      ...(kind === "secret: encrypted records" ? { secret: SECRET } : {}),
    });
    return await Promise.all([active.connect(), passive.connect()]);
  } finally {
    passive.close();
  }
}

/** Seconds to move `bytes` from client to server. */
async function move(kind: Kind, bytes: number): Promise<number> {
  const [client, server] = await pair(kind);
  try {
    const chunk = new Uint8Array(256 * 1024).fill(0x5a);
    const start = performance.now();
    const sending = (async () => {
      for (let sent = 0; sent < bytes; sent += chunk.length) {
        await writeAll(client, chunk);
      }
      await client.closeWrite();
    })();
    const buffer = new Uint8Array(256 * 1024);
    let received = 0;
    for (;;) {
      const count = await server.read(buffer);
      if (count === null) break;
      received += count;
    }
    await sending;
    if (received !== bytes) {
      throw new Error(`${kind}: ${received} of ${bytes} bytes arrived`);
    }
    return (performance.now() - start) / 1000;
  } finally {
    client.close();
    server.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, { string: ["mib", "rounds"] });
  const mib = Number(args.mib ?? 256);
  const rounds = Number(args.rounds ?? 5);
  const bytes = mib * 1024 * 1024;
  const rates = new Map<Kind, number[]>(KINDS.map((kind) => [kind, []]));
  for (const kind of KINDS) await move(kind, 16 * 1024 * 1024); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const kind of KINDS) {
      rates.get(kind)!.push(bytes / 1e6 / await move(kind, bytes));
    }
  }
  const plain = median(rates.get("plain TCP")!);
  const tls = median(rates.get("TLS")!);
  console.log(
    `Library stream, ${mib} MiB one way, ${rounds} interleaved rounds, ` +
      `load average ${Deno.loadavg().map((n) => n.toFixed(1)).join(" ")}\n`,
  );
  console.log("| pair | median MB/s | min | max | ÷ plain | ÷ TLS |");
  console.log("| ---- | ----------: | --: | --: | ------: | ----: |");
  for (const kind of KINDS) {
    const values = rates.get(kind)!;
    const value = median(values);
    console.log(
      `| ${kind} | ${value.toFixed(0)} | ${Math.min(...values).toFixed(0)} | ${
        Math.max(...values).toFixed(0)
      } | ${(value / plain).toFixed(2)} | ${(value / tls).toFixed(2)} |`,
    );
  }
}
