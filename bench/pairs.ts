/**
 * Connect+accept pairs for the setup benchmarks, each one whole as a user
 * sees it: bind a listener on a fresh port (or unix socket), connect, accept,
 * complete the TLS handshake on both sides, close the listener. The caller
 * closes the pair. Raw-Deno builders do the same with the plain calls, so
 * comparing them measures the connector's own cost.
 *
 * @module
 */
import { Connector } from "../mod.ts";

const HOST = "127.0.0.1";

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

/** A client and a server connection. */
export type Pair = [Deno.Conn, Deno.Conn];

/** Closes both ends. */
export function closePair([client, server]: Pair): void {
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

/** A Connector pair over TCP on 127.0.0.1. */
export function connectorTcpPair(): Promise<Pair> {
  return connectorPair({ host: HOST }, (addr) => ({
    host: HOST,
    port: (addr as Deno.NetAddr).port,
  }));
}

/** A Connector pair over a fresh unix socket. */
export function connectorUnixPair(): Promise<Pair> {
  const path = socketPath();
  return connectorPair({ path }, () => ({ path }));
}

/** A Connector pair over TLS (fixture certificate for 127.0.0.1). */
export function connectorTlsPair(): Promise<Pair> {
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

/** `Deno.listen` + `Deno.connect` over TCP, listener closed after the accept. */
export async function rawTcpPair(): Promise<Pair> {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  return await Promise.all([
    Deno.connect({ hostname: HOST, port: listener.addr.port }),
    acceptOne(listener),
  ]);
}

/** `Deno.listen` + `Deno.connect` over a fresh unix socket. */
export async function rawUnixPair(): Promise<Pair> {
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
export async function rawConnectTlsPair(): Promise<Pair> {
  const server = rawTlsServer();
  return await Promise.all([
    Deno.connectTls({ hostname: HOST, port: server.port, caCerts: [CA] }).then(
      handshaken,
    ),
    server.accepted,
  ]);
}

/** The fast raw path: `Deno.connect` + `setNoDelay(true)` + `Deno.startTls`. */
export async function rawStartTlsPair(): Promise<Pair> {
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
