/**
 * Which sockets of dropped TLS peers Deno keeps open, run by
 * tests/flood_test.ts in a process of its own. For each kind of peer, a
 * passive TLS connector with a secret drops 20 such peers and is closed; the
 * script then counts, exactly, the sockets this process still holds whose
 * local end is that connector's port (from /proc/self/fd and
 * /proc/self/net/tcp, so descriptors the runtime opens for itself do not
 * count). Every case's peers stay open until all cases ran: a socket still
 * held at the end was held while the later cases' connectors timed out their
 * handshakes and the runtime freed those cases' sockets. It
 * prints one JSON line: `{"cases":[{what, lingers, port, dropped,
 * heldAtClose, freedWhilePeersOpen, heldAtEnd, heldAfterPeersClosed}]}`.
 *
 * @module
 */
import { Connector } from "../../mod.ts";
import {
  heldSockets,
  LOCALHOST_TLS,
  TEST_CA,
  waitUntil,
  writeAll,
} from "../_helpers.ts";

const DROPPED = 20;
const SECRET = "correct horse battery staple, 32";

function dial(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** The first record a Deno TLS client sends: a real ClientHello. */
async function captureClientHello(): Promise<Uint8Array> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = dial(listener.addr.port).then((tcp) =>
    Deno.startTls(tcp, { hostname: "localhost" })
  ).then((conn) => conn.handshake().finally(() => conn.close()));
  using server = await listener.accept();
  const buffer = new Uint8Array(4096);
  const count = await server.read(buffer);
  server.close();
  await client.catch(() => {});
  return buffer.slice(0, count!);
}

type Dialer = (port: number) => Promise<Deno.Conn>;

/**
 * [what the peer does, how, whether Deno keeps its socket here]. The kinds
 * whose sockets are kept come first: they are counted again at the end, after
 * the runtime freed the later kinds' sockets.
 */
function peerKinds(hello: Uint8Array): [string, Dialer, boolean][] {
  return [
    ["sends nothing", dial, true],
    ["sends a ClientHello and stalls", async (port) => {
      const conn = await dial(port);
      await writeAll(conn, hello);
      return conn;
    }, true],
    ["sends bytes that are not TLS", async (port) => {
      const conn = await dial(port);
      await writeAll(conn, new Uint8Array([0x16, 3, 1, 0, 4, 1, 2, 3, 4]));
      return conn;
    }, false],
    ["completes TLS and stalls the secret exchange", async (port) => {
      const tcp = await dial(port);
      tcp.setNoDelay(true);
      const conn = await Deno.startTls(tcp, {
        hostname: "localhost",
        caCerts: [TEST_CA],
      });
      await conn.handshake();
      return conn;
    }, false],
  ];
}

/** Drops DROPPED peers of one kind at a passive connector, then closes it. */
async function dropPeers(
  what: string,
  connect: Dialer,
  peers: Deno.Conn[],
): Promise<{ port: number; heldAtClose: number }> {
  const passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: LOCALHOST_TLS,
    secret: SECRET,
    handshakeTimeout: 200,
    timeout: 60_000,
  });
  try {
    const { port } = await passive.listen() as Deno.NetAddr;
    const waiting = passive.connect();
    waiting.catch(() => {}); // ended by close() below
    for (let index = 0; index < DROPPED; index++) {
      peers.push(await connect(port));
    }
    await waitUntil(
      () => passive.rejectedPeers === DROPPED,
      30_000,
      `every peer that ${what} is dropped`,
    );
    passive.close();
    const ended = await waiting.then(() => "connected", (error) => error);
    if (!(ended instanceof Deno.errors.Interrupted)) {
      throw new Error(`connect() after close() ended with ${ended}`);
    }
    return { port, heldAtClose: heldSockets(port) };
  } finally {
    passive.close();
  }
}

const hello = await captureClientHello();
const peers: Deno.Conn[] = [];
const cases = [];
try {
  for (const [what, connect, lingers] of peerKinds(hello)) {
    const { port, heldAtClose } = await dropPeers(what, connect, peers);
    // A socket the runtime lets go of goes once its pending operation ends,
    // a moment after close(), with the peer still open: wait for that.
    const freedWhilePeersOpen = lingers ? false : await waitUntil(
      () => heldSockets(port) === 0,
      10_000,
      "",
    ).then(() => true, () => false);
    cases.push({
      what,
      lingers,
      port,
      dropped: DROPPED,
      heldAtClose,
      freedWhilePeersOpen,
    });
  }
} finally {
  for (const entry of cases) {
    Object.assign(entry, { heldAtEnd: heldSockets(entry.port) });
  }
  for (const peer of peers) peer.close();
}
for (const entry of cases) {
  await waitUntil(
    () => heldSockets(entry.port) === 0,
    10_000,
    `sockets freed once the peers that ${entry.what} closed`,
  ).catch(() => {});
  Object.assign(entry, { heldAfterPeersClosed: heldSockets(entry.port) });
}
console.log(JSON.stringify({ cases }));
