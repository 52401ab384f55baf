/**
 * The cost of shared-secret authentication: one `authenticate()` exchange on
 * an open loopback connection (both sides in this process, so the figure is
 * the whole exchange: two frames each way, one key import and two HMACs per
 * side), the HMAC work alone, and a whole Connector pair over TCP with and
 * without a secret in the same run.
 *
 * Run: `deno bench --import-map=offline/import_map.json -A bench/auth_bench.ts`
 *
 * @module
 */
import { authenticate, Connector } from "../mod.ts";

const HOST = "127.0.0.1";
const SECRET = crypto.getRandomValues(new Uint8Array(32));
const encoder = new TextEncoder();

// One connection pair for the exchange benchmarks: each exchange reads
// exactly its own bytes, so exchanges can follow one another on it.
const listener = Deno.listen({ hostname: HOST, port: 0 });
const [client, server] = await Promise.all([
  Deno.connect({ hostname: HOST, port: listener.addr.port }),
  listener.accept(),
]);
listener.close();
client.setNoDelay(true);
(server as Deno.TcpConn).setNoDelay(true);
const never = new AbortController().signal;

Deno.bench({
  name: "authenticate(): one exchange, both sides, open TCP connection",
  group: "exchange",
  baseline: true,
  async fn() {
    await Promise.all([
      authenticate(client, "active", SECRET, never),
      authenticate(server, "passive", SECRET, never),
    ]);
  },
});

Deno.bench({
  name: "HMAC work alone: 2 × (importKey + 2 × sign)",
  group: "exchange",
  async fn() {
    const message = encoder.encode("x".repeat(107));
    for (let side = 0; side < 2; side++) {
      const key = await crypto.subtle.importKey(
        "raw",
        SECRET,
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign"],
      );
      await Promise.all([
        crypto.subtle.sign("HMAC", key, message),
        crypto.subtle.sign("HMAC", key, message),
      ]);
    }
  },
});

/**
 * Iterations per pair case: every TCP pair leaves a client port in TIME_WAIT
 * for 60 s, so a run stays at ~2,200 pairs (an async bench function must be
 * `async`: `deno bench` runs a plain function as synchronous).
 */
const PAIRS = { n: 1000, warmup: 100 };

async function connectorPair(secret?: Uint8Array): Promise<void> {
  await using passive = new Connector({
    mode: "passive",
    host: HOST,
    ...(secret ? { secret } : {}),
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const active = new Connector({
    host: HOST,
    port,
    timeout: 10_000,
    ...(secret ? { secret } : {}),
  });
  const [conn, peer] = await Promise.all([active.connect(), passive.connect()]);
  conn.close();
  peer.close();
}

Deno.bench({
  name: "Connector pair over TCP, no secret",
  group: "pair",
  baseline: true,
  ...PAIRS,
  fn: async () => await connectorPair(),
});

Deno.bench({
  name: "Connector pair over TCP, with a secret",
  group: "pair",
  ...PAIRS,
  fn: async () => await connectorPair(SECRET),
});
