/**
 * A passive connector under attack: the vetting queue's order (least progress
 * dropped first), its size (from the descriptor budget), silent peers under
 * pressure, a dropped peer that must never win, descriptor exhaustion on
 * accept, and which sockets of dropped TLS peers Deno 2.9.6 keeps open (counted in a
 * process of its own, tests/flood_scripts/dropped_tls_sockets.ts). The
 * timing targets of a flood live in bench/flood.ts, not here.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertLessOrEqual,
  assertRejects,
} from "@std/assert";
import { authenticate, Connector, type TransportAddress } from "../mod.ts";
import {
  acceptCounterpart,
  type AcceptOptions,
  MAX_QUEUE_SIZE,
  Progress,
  SILENT_TIME_UNDER_PRESSURE,
  vetPeer,
} from "../_accept.ts";
import {
  assertLive,
  assertPeerClosed,
  LOCALHOST_TLS,
  readExactly,
  TEST_CA,
  waitUntil,
  writeAll,
} from "./_helpers.ts";

const SECRET = "correct horse battery staple, 32";
const SECRET_BYTES = new TextEncoder().encode(SECRET);
const IMPORT_MAP = new URL("../offline/import_map.json", import.meta.url)
  .pathname;

function dial(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** A TLS client that completes its handshake against `port`. */
async function dialTls(port: number): Promise<Deno.TlsConn> {
  const tcp = await dial(port);
  tcp.setNoDelay(true);
  const conn = await Deno.startTls(tcp, {
    hostname: "localhost",
    caCerts: [TEST_CA],
  });
  await conn.handshake();
  return conn;
}

/**
 * Plays the active side's first step of the secret exchange (version 2: the
 * version byte, a feature byte and a nonce) and reads the passive side's answer (its hello
 * and share): the peer is then in vetting, mid-exchange.
 */
async function startExchange(conn: Deno.Conn): Promise<void> {
  const hello = new Uint8Array(34); // version, features, nonce
  hello[0] = 2;
  crypto.getRandomValues(hello.subarray(2));
  await writeAll(conn, hello);
  await readExactly(conn, 66);
}

/** A promise with its resolve function outside. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => resolve = done);
  return { promise, resolve };
}

/** Runs acceptCounterpart on a fresh loopback listener; `close()` ends it. */
function waitOn(
  listener: Deno.Listener,
  options: Partial<AcceptOptions>,
): {
  waiting: Promise<Deno.Conn>;
  rejected: () => number;
  close: () => void;
} {
  const stop = new AbortController();
  let rejected = 0;
  let listenerOpen = true;
  const waiting = acceptCounterpart({
    listener,
    signal: stop.signal,
    allow: undefined,
    vet: undefined,
    closeListener: () => {
      if (listenerOpen) listener.close();
      listenerOpen = false;
    },
    onRejected: () => rejected++,
    acceptError: (error) => error,
    ...options,
  });
  return {
    waiting,
    rejected: () => rejected,
    close: () => stop.abort(new Deno.errors.Interrupted("test over")),
  };
}

// -------------------------------------------------------------- the race --

Deno.test("acceptCounterpart() never hands over a peer dropped from a full queue while its last check completes", async () => {
  const QUEUE = 64;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const first = deferred(); // the first peer's checks, finished by hand
  const vetted: Deno.Conn[] = [];
  const wait = waitOn(listener, {
    queueSize: QUEUE,
    vet: (conn) => {
      vetted.push(conn);
      if (vetted.length === 1) return first.promise;
      // The peer that overflows the queue arrives as the first one's last
      // handshake message does: its checks complete in the same turn.
      if (vetted.length === QUEUE + 1) first.resolve();
      if (vetted.length === QUEUE + 2) return Promise.resolve();
      return new Promise<void>(() => {});
    },
  });
  const peers: Deno.Conn[] = [];
  try {
    for (let index = 0; index < QUEUE + 1; index++) {
      peers.push(await dial(listener.addr.port));
    }
    await waitUntil(() => vetted.length === QUEUE + 1, 5000, "all accepted");
    await first.promise;
    const winner = await dial(listener.addr.port);
    peers.push(winner);
    using server = await wait.waiting;
    assertEquals(
      (server.remoteAddr as Deno.NetAddr).port,
      (winner.localAddr as Deno.NetAddr).port,
      "the dropped first peer was handed over",
    );
    await assertLive(winner, server);
    // Dropped: the first peer, then the second to make room for the winner.
    assertEquals(wait.rejected(), 2, "the dropped peers are counted once");
    await assertPeerClosed(peers[0], "the dropped first peer stays open");
  } finally {
    wait.close();
    for (const peer of peers) peer.close();
  }
});

// ----------------------------------------------------- the queue's order --

for (const tls of [false, true]) {
  const kind = tls ? "TLS + secret" : "secret";
  Deno.test(`acceptCounterpart() with a ${kind} drops the oldest silent peer, not an older one that made progress, when the queue overflows`, async () => {
    const QUEUE = 4;
    const listener = tls
      ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...LOCALHOST_TLS })
      : Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    const spoke = deferred(); // the first peer's bytes reached its vetting
    const wait = waitOn(listener, {
      queueSize: QUEUE,
      handshakeTimeout: 60_000,
      vet: (conn, signal, onProgress) =>
        vetPeer(
          conn,
          { tls, secret: SECRET_BYTES, timeout: 60_000 },
          signal,
          (level) => {
            onProgress(level);
            if (level === Progress.Speaking) spoke.resolve();
          },
        ),
    });
    wait.waiting.catch(() => {}); // ended by close() below
    const silent: Deno.Conn[] = [];
    // The peer with progress: TLS done, or the first byte of the exchange.
    const progressed = tls ? await dialTls(port) : await dial(port);
    try {
      await startExchange(progressed); // vetted, mid-exchange
      await spoke.promise; // and its progress counted before the others come
      for (let index = 0; index < QUEUE + 1; index++) {
        silent.push(await dial(port));
      }
      // The queue overflowed twice: the two oldest silent peers went (with
      // TLS their sockets stay open: see the descriptor test below).
      await waitUntil(() => wait.rejected() === 2, 5000, "two peers dropped");
      if (!tls) {
        await assertPeerClosed(silent[0], "the oldest silent peer stays open");
        await assertPeerClosed(silent[1], "the next silent peer stays open");
      }
      // The peer with progress is still in vetting: garbage makes it fail.
      await writeAll(progressed, new Uint8Array(96)); // an invalid share
      await assertPeerClosed(progressed, "the peer with progress stays open");
      assertEquals(wait.rejected(), 3, "the peer with progress was kept");
    } finally {
      wait.close();
      await wait.waiting.catch(() => {});
      progressed.close();
      for (const conn of silent) conn.close();
    }
  });
}

Deno.test("acceptCounterpart() gives silent peers at most 1 s once the queue is half full, and keeps peers that made progress", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  let vetted = 0;
  let lastAdmitted = 0; // when the last peer entered vetting (ms)
  const wait = waitOn(listener, {
    queueSize: 6,
    handshakeTimeout: 60_000,
    vet: (conn, signal, onProgress) => {
      vetted++;
      lastAdmitted = performance.now();
      return vetPeer(
        conn,
        { tls: false, secret: SECRET_BYTES, timeout: 60_000 },
        signal,
        onProgress,
      );
    },
  });
  wait.waiting.catch(() => {}); // ended by close() below
  const peers: Deno.Conn[] = [];
  try {
    const speaking = await dial(port);
    peers.push(speaking);
    await startExchange(speaking);
    for (let index = 0; index < 2; index++) peers.push(await dial(port));
    await waitUntil(() => vetted === 3, 5000, "three peers in vetting");
    // The clock, not a margin: every silent peer is now past its time.
    await waitUntil(
      () => performance.now() > lastAdmitted + SILENT_TIME_UNDER_PRESSURE,
      SILENT_TIME_UNDER_PRESSURE + 5000,
      "the silent peers' time under pressure over",
    );
    assertEquals(wait.rejected(), 0, "nobody dropped while not half full");
    peers.push(await dial(port)); // 4 of 6: half full
    await assertPeerClosed(peers[1], "a silent peer past 1 s stays open");
    await assertPeerClosed(peers[2], "a silent peer past 1 s stays open");
    assertEquals(wait.rejected(), 2, "only the two old silent peers go");
  } finally {
    wait.close();
    await wait.waiting.catch(() => {});
    for (const conn of peers) conn.close();
  }
});

// ------------------------------------------------------ the queue's size --

for (const tls of [false, true]) {
  const kind = tls ? "TLS + secret" : "secret";
  Deno.test(`Connector.connect() in passive mode with a ${kind} keeps a counterpart that connected before 100 newer peers stalled in vetting`, async () => {
    await using passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      secret: SECRET,
      tls: tls ? LOCALHOST_TLS : undefined,
      handshakeTimeout: 60_000,
      timeout: 20_000,
    });
    const { port } = await passive.listen() as Deno.NetAddr;
    const waiting = passive.connect();
    waiting.catch(() => {}); // awaited below; failures surface there
    const stalled: Deno.Conn[] = [];
    const flooded = deferred();
    const connected = deferred(); // the counterpart's socket is in the queue
    // The counterpart's socket connects first; its handshakes start only
    // after 100 newer peers are in vetting. TLS cannot run over a custom
    // transport: that side is set up by hand, with the public authenticate().
    const counterpart = tls
      ? dial(port).then(async (tcp) => {
        connected.resolve();
        await flooded.promise;
        tcp.setNoDelay(true);
        const conn = await Deno.startTls(tcp, {
          hostname: "localhost",
          caCerts: [TEST_CA],
        });
        try {
          await authenticate(conn, {
            role: "active",
            secret: SECRET_BYTES,
            signal: AbortSignal.timeout(20_000),
          });
        } catch (error) {
          conn.close();
          throw error;
        }
        return conn as Deno.Conn;
      })
      : new Connector({
        host: "127.0.0.1",
        port,
        secret: SECRET,
        timeout: 20_000,
        transport: {
          async connect(address: TransportAddress) {
            const { port } = address as { port: number };
            const conn = await Deno.connect({ hostname: "127.0.0.1", port });
            connected.resolve();
            await flooded.promise;
            return conn;
          },
        },
      }).connect();
    try {
      await connected.promise;
      for (let index = 0; index < 100; index++) {
        // Each gets the passive side's hello and share: it is in vetting.
        const conn = tls ? await dialTls(port) : await dial(port);
        stalled.push(conn);
        await startExchange(conn);
      }
      flooded.resolve();
      using client = await counterpart;
      using server = await waiting;
      await assertLive(client, server);
      assertEquals(passive.rejectedPeers, 0);
    } finally {
      flooded.resolve();
      await counterpart.catch(() => {});
      for (const conn of stalled) conn.close();
    }
  });
}

Deno.test("the vetting queue is sized from the free descriptors with -A and falls back to 512 without", async () => {
  const script = `
    import { queueSizeFromDescriptors } from ${
    JSON.stringify(new URL("../_accept.ts", import.meta.url).href)
  };
    const before = queueSizeFromDescriptors(0);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const conns = [];
    for (let i = 0; i < 50; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
      conns.push(await listener.accept());
    }
    console.log(JSON.stringify({ before, after: queueSizeFromDescriptors(0) }));
    for (const conn of conns) conn.close();
    listener.close();`;
  const run = async (permissions: string) => {
    const { code, stdout, stderr } = await new Deno.Command("bash", {
      args: [
        "-c",
        `ulimit -n 300 && exec "$0" run --no-prompt --import-map="$1" ${permissions} "$2"`,
        Deno.execPath(),
        IMPORT_MAP,
        `data:application/typescript;base64,${btoa(script)}`,
      ],
      stdin: "null",
    }).output();
    assertEquals(code, 0, new TextDecoder().decode(stderr));
    return JSON.parse(new TextDecoder().decode(stdout));
  };
  const counted = await run("-A");
  // 300 descriptors, about 20 open at start: half of the rest.
  assertGreater(counted.before, 120);
  assertLessOrEqual(counted.before, 150);
  // 101 more open (a listener, 50 pairs): half of them, rounded either way
  // (floor(free / 2) before and after: 50 or 51).
  assertGreater(counted.before - counted.after, 49);
  assertLessOrEqual(counted.before - counted.after, 51);
  const uncounted = await run(
    "--allow-net=127.0.0.1 --allow-read --allow-import",
  );
  assertEquals(uncounted, { before: 512, after: 512 });
  assert(MAX_QUEUE_SIZE >= 512);
});

// --------------------------------------------------- descriptor shortage --

Deno.test("Connector.connect() in passive mode backs off on EMFILE, counts it and lets the counterpart through once descriptors are free again", async () => {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n 64 && exec "$0" run --no-prompt --import-map="$1" --allow-net=127.0.0.1 --allow-read "$2" "$3" 500`,
      Deno.execPath(),
      IMPORT_MAP,
      new URL("./flood_scripts/passive_low_limit.ts", import.meta.url)
        .pathname,
      SECRET,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  const stderr = new Response(child.stderr).text();
  const peers: Deno.Conn[] = [];
  try {
    const { value: first } = await lines.next();
    const { port } = JSON.parse(first!);
    // 80 silent peers, more than the child's descriptors: its accept fails
    // with "Too many open files" until their handshake time frees some.
    for (let index = 0; index < 80; index++) peers.push(await dial(port));
    using client = await new Connector({
      host: "127.0.0.1",
      port,
      secret: SECRET,
      timeout: 20_000,
    }).connect();
    await writeAll(client, new Uint8Array([42]));
    assertEquals(await readExactly(client, 1), new Uint8Array([42]));
    const { value: last } = await lines.next();
    const report = JSON.parse(last!);
    assertEquals(report.ok, true, last);
    assertGreater(report.descriptorShortages, 0, last);
    assertEquals((await child.status).code, 0, await stderr);
  } finally {
    for (const peer of peers) peer.close();
    try {
      child.kill();
    } catch {
      // Already exited.
    }
    await child.status;
    await stderr;
    await lines.return?.();
  }
});

// ----------------------------------------- descriptors of dropped peers --

Deno.test(`Deno 2.9.6 keeps the sockets of TLS peers dropped before their handshake completed (silent, or a ClientHello then silence) until they act; it frees the others at once`, async () => {
  // In a process of its own, counting exactly the sockets on each connector's
  // port (not every descriptor, which other tests and the runtime move).
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--import-map=${IMPORT_MAP}`,
      "-A", // reading /proc/self/net/tcp takes every permission
      new URL("./flood_scripts/dropped_tls_sockets.ts", import.meta.url)
        .pathname,
    ],
    stdin: "null",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  const { cases } = JSON.parse(new TextDecoder().decode(stdout));
  assertEquals(cases.length, 4);
  for (const entry of cases) {
    if (entry.lingers) {
      // Kept at close, and still kept after the later kinds' were freed.
      assertEquals(
        [entry.heldAtClose, entry.heldAtEnd],
        [entry.dropped, entry.dropped],
        `sockets of the ${entry.dropped} dropped peers that ${entry.what}`,
      );
    } else {
      assertEquals(entry.heldAtEnd, 0, entry.what);
    }
    // The others go without any act of the peer; every one goes once it acts.
    assertEquals(entry.freedWhilePeersOpen, !entry.lingers, entry.what);
    assertEquals(entry.heldAfterPeersClosed, 0, entry.what);
  }
});

// ------------------------------------------ closed, aborted, transports --

Deno.test("Connector.listen() after close() rejects with Interrupted instead of the closed listener's address", async () => {
  const passive = new Connector({ mode: "passive", host: "127.0.0.1" });
  const { port } = await passive.listen() as Deno.NetAddr;
  passive.close();
  await assertRejects(() => passive.listen(), Deno.errors.Interrupted);
  // The port is really free: another listener takes it.
  Deno.listen({ hostname: "127.0.0.1", port }).close();
});

Deno.test("Connector with an already aborted signal binds nothing in listen() or connect()", async () => {
  const port = (() => {
    using probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return probe.addr.port;
  })();
  const reason = new Error("called off");
  const signal = AbortSignal.abort(reason);
  for (const call of ["listen", "connect"] as const) {
    await using passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      port,
      signal,
    });
    const error = await assertRejects(() => passive[call]());
    assertEquals(error, reason);
    // Nothing holds the port: binding it succeeds.
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  }
});

for (
  const [what, value] of [
    ["null", null],
    ["a string", "127.0.0.1:80"],
    ["a plain object", { read() {} }],
  ] as const
) {
  Deno.test(`Connector rejects with TypeError when a custom transport's connect() or listen() gives ${what}`, async () => {
    const active = new Connector({
      host: "127.0.0.1",
      port: 9,
      transport: {
        connect: () => Promise.resolve(value as unknown as Deno.Conn),
      },
    });
    await assertRejects(
      () => active.connect(),
      TypeError,
      "transport's connect() resolved",
    );
    for (const result of [value, Promise.resolve(value)]) {
      const passive = new Connector({
        mode: "passive",
        host: "127.0.0.1",
        transport: { listen: () => result as unknown as Deno.Listener },
      });
      await assertRejects(
        () => passive.listen(),
        TypeError,
        "transport's listen() returned",
      );
      passive.close();
    }
  });
}

Deno.test("Connector closes a custom transport's result that is not a connection", async () => {
  let closed = 0;
  const notAConn = { close: () => closed++ };
  const active = new Connector({
    host: "127.0.0.1",
    port: 9,
    transport: {
      connect: () => Promise.resolve(notAConn as unknown as Deno.Conn),
    },
  });
  await assertRejects(() => active.connect(), TypeError, "not a Deno.Conn");
  assertEquals(closed, 1);
});
