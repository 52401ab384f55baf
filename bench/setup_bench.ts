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
import { Connector } from "../mod.ts";

const HOST = "127.0.0.1";
/** Pairs set up at once in the "concurrent" groups. */
const CONCURRENT_PAIRS = 200;

const fixture = (name: string): string =>
  Deno.readTextFileSync(new URL(`../tests/fixtures/${name}`, import.meta.url));
const CA = fixture("ca.pem");
const CERT = fixture("localhost.pem");
const KEY = fixture("localhost.key.pem");

const socketDirectory = Deno.makeTempDirSync({ prefix: "connect_bench_" });
let socketCount = 0;
/** A fresh unix socket path (the listener removes its file on close). */
function socketPath(): string {
  return `${socketDirectory}/s${socketCount++}.sock`;
}
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(socketDirectory, { recursive: true });
  } catch {
    // Already gone.
  }
});

type Pair = [Deno.Conn, Deno.Conn];

function closePair([client, server]: Pair): void {
  client.close();
  server.close();
}

/** A passive and an active connector, set up against each other. */
async function connectorPair(
  passiveOptions: ConstructorParameters<typeof Connector>[0],
  activeOptions: (
    addr: Deno.Addr,
  ) => ConstructorParameters<typeof Connector>[0],
): Promise<Pair> {
  const passive = new Connector({ mode: "passive", ...passiveOptions });
  const addr = await passive.listen();
  const active = new Connector(activeOptions(addr));
  return await Promise.all([active.connect(), passive.connect()]);
}

function connectorTcpPair(): Promise<Pair> {
  return connectorPair({ host: HOST }, (addr) => ({
    host: HOST,
    port: (addr as Deno.NetAddr).port,
  }));
}

function connectorUnixPair(): Promise<Pair> {
  const path = socketPath();
  return connectorPair({ path }, () => ({ path }));
}

function connectorTlsPair(): Promise<Pair> {
  return connectorPair({ host: HOST, tls: { cert: CERT, key: KEY } }, (
    addr,
  ) => ({
    host: HOST,
    port: (addr as Deno.NetAddr).port,
    tls: { caCerts: [CA] },
  }));
}

/** Accepts one peer, closes the listener, like a passive connector does. */
async function acceptOne<T extends Deno.Conn>(
  listener: Deno.Listener<T>,
): Promise<T> {
  try {
    return await listener.accept();
  } finally {
    listener.close();
  }
}

async function rawTcpPair(): Promise<Pair> {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  return await Promise.all([
    Deno.connect({ hostname: HOST, port: listener.addr.port }),
    acceptOne(listener),
  ]);
}

async function rawUnixPair(): Promise<Pair> {
  const path = socketPath();
  const listener = Deno.listen({ transport: "unix", path });
  return await Promise.all([
    Deno.connect({ transport: "unix", path }),
    acceptOne(listener),
  ]);
}

async function handshaken(conn: Deno.TlsConn): Promise<Deno.TlsConn> {
  await conn.handshake();
  return conn;
}

/** A TLS listener whose accepted peer has completed its handshake. */
function rawTlsServer(): {
  port: number;
  accepted: Promise<Deno.TlsConn>;
} {
  const listener = Deno.listenTls({
    hostname: HOST,
    port: 0,
    cert: CERT,
    key: KEY,
  });
  return {
    port: listener.addr.port,
    accepted: acceptOne(listener).then(handshaken),
  };
}

/** The plain path: `Deno.connectTls`, whose Finished waits on Nagle. */
async function rawConnectTlsPair(): Promise<Pair> {
  const server = rawTlsServer();
  return await Promise.all([
    Deno.connectTls({ hostname: HOST, port: server.port, caCerts: [CA] }).then(
      handshaken,
    ),
    server.accepted,
  ]);
}

/** The fast raw path: `Deno.connect` + `setNoDelay(true)` + `Deno.startTls`. */
async function rawStartTlsPair(): Promise<Pair> {
  const server = rawTlsServer();
  const client = async () => {
    const tcp = await Deno.connect({ hostname: HOST, port: server.port });
    tcp.setNoDelay(true);
    return await handshaken(
      await Deno.startTls(tcp, { hostname: HOST, caCerts: [CA] }),
    );
  };
  return await Promise.all([client(), server.accepted]);
}

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
