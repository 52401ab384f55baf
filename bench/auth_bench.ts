/**
 * The cost of the CPace secret exchange: one `authenticate()` exchange on an
 * open loopback connection (both sides in this process, so the figure is the
 * whole exchange of one connection: four frames, two generators, four scalar
 * multiplications, the hashes and tags), the group work of one side alone,
 * and the setup latency of a whole Connector pair over TCP with and without a
 * secret in the same run.
 *
 * Run: `deno bench --import-map=offline/import_map.json -A bench/auth_bench.ts`
 *
 * @module
 */
import { authenticate, Connector } from "../mod.ts";
import {
  calculateGenerator,
  sampleScalar,
  scalarMult,
  scalarMultVerify,
} from "../_cpace.ts";

const HOST = "127.0.0.1";
const SECRET = new TextEncoder().encode("42-apple-cabin-stone-quiet");

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
      authenticate(client, { role: "active", secret: SECRET, signal: never }),
      authenticate(server, { role: "passive", secret: SECRET, signal: never }),
    ]);
  },
});

const sid = crypto.getRandomValues(new Uint8Array(64));
const channel = new Uint8Array(8);
Deno.bench({
  name: "group work of one side: generator + 2 scalar multiplications",
  group: "exchange",
  async fn() {
    const generator = await calculateGenerator(SECRET, channel, sid);
    const share = scalarMult(sampleScalar(), generator);
    scalarMultVerify(sampleScalar(), share);
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
  name: "Connector pair over TCP, with a code (CPace)",
  group: "pair",
  ...PAIRS,
  fn: async () => await connectorPair(SECRET),
});
