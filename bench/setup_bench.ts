/**
 * Setup latency: how long one connect+accept pair takes through a
 * {@linkcode Connector} compared with raw `Deno.connect`/`Deno.listen` in the
 * same run, over TCP, unix sockets and TLS, one pair at a time and 200 pairs
 * at once.
 *
 * Every iteration is a whole pair, as a user of the connector sees it: bind a
 * listener on a fresh port, connect, accept, complete the TLS handshake on
 * both sides when there is one, close the listener and both connections. The
 * raw baselines do the same with the plain Deno calls, so the ratios that
 * `deno bench` prints are the connector's own cost.
 *
 * Run: `deno bench --import-map=offline/import_map.json -A bench/setup_bench.ts`
 *
 * @module
 */
import {
  closePair,
  connectorTcpPair,
  connectorTlsPair,
  connectorUnixPair,
  type Pair,
  rawConnectTlsPair,
  rawStartTlsPair,
  rawTcpPair,
  rawUnixPair,
} from "./pairs.ts";

/** Pairs set up at once in the "concurrent" groups. */
const CONCURRENT_PAIRS = 200;

async function sequential(makePair: () => Promise<Pair>): Promise<void> {
  closePair(await makePair());
}

async function concurrent(makePair: () => Promise<Pair>): Promise<void> {
  const pairs = await Promise.all(
    Array.from({ length: CONCURRENT_PAIRS }, makePair),
  );
  pairs.forEach(closePair);
}

/**
 * Iterations and warm-ups per case. Every TCP pair leaves its client port in
 * TIME_WAIT for 60 s, and loopback has ~28,000 ephemeral ports shared with
 * whatever else runs: the counts keep one run under ~8,000 TCP pairs.
 */
const SEQUENTIAL = { n: 1000, warmup: 100 };
const TLS = { n: 200, warmup: 20 };
const SLOW_TLS = { n: 25, warmup: 2 };
const CROWD = { n: 5, warmup: 1 };

Deno.bench({
  name: "raw Deno.listen + Deno.connect",
  group: "tcp",
  baseline: true,
  ...SEQUENTIAL,
  fn: async () => await sequential(rawTcpPair),
});
Deno.bench({
  name: "Connector passive + active",
  group: "tcp",
  ...SEQUENTIAL,
  fn: async () => await sequential(connectorTcpPair),
});

Deno.bench({
  name: "raw unix Deno.listen + Deno.connect",
  group: "unix",
  baseline: true,
  ...SEQUENTIAL,
  fn: async () => await sequential(rawUnixPair),
});
Deno.bench({
  name: "Connector unix passive + active",
  group: "unix",
  ...SEQUENTIAL,
  fn: async () => await sequential(connectorUnixPair),
});

Deno.bench({
  name: "raw Deno.listenTls + Deno.connectTls",
  group: "tls",
  baseline: true,
  ...SLOW_TLS,
  fn: async () => await sequential(rawConnectTlsPair),
});
Deno.bench({
  name: "raw Deno.listenTls + connect/setNoDelay/startTls",
  group: "tls",
  ...TLS,
  fn: async () => await sequential(rawStartTlsPair),
});
Deno.bench({
  name: "Connector TLS passive + active",
  group: "tls",
  ...TLS,
  fn: async () => await sequential(connectorTlsPair),
});

Deno.bench({
  name: `raw TCP, ${CONCURRENT_PAIRS} pairs at once`,
  group: "tcp x200",
  baseline: true,
  ...CROWD,
  fn: async () => await concurrent(rawTcpPair),
});
Deno.bench({
  name: `Connector TCP, ${CONCURRENT_PAIRS} pairs at once`,
  group: "tcp x200",
  ...CROWD,
  fn: async () => await concurrent(connectorTcpPair),
});

Deno.bench({
  name: `raw unix, ${CONCURRENT_PAIRS} pairs at once`,
  group: "unix x200",
  baseline: true,
  ...CROWD,
  fn: async () => await concurrent(rawUnixPair),
});
Deno.bench({
  name: `Connector unix, ${CONCURRENT_PAIRS} pairs at once`,
  group: "unix x200",
  ...CROWD,
  fn: async () => await concurrent(connectorUnixPair),
});

Deno.bench({
  name: `raw TLS (startTls), ${CONCURRENT_PAIRS} pairs at once`,
  group: "tls x200",
  baseline: true,
  ...CROWD,
  fn: async () => await concurrent(rawStartTlsPair),
});
Deno.bench({
  name: `Connector TLS, ${CONCURRENT_PAIRS} pairs at once`,
  group: "tls x200",
  ...CROWD,
  fn: async () => await concurrent(connectorTlsPair),
});
