/**
 * A passive connector under a flood of well-formed hellos: hellos are read
 * and queued before any share is computed, a peer that closed after its hello
 * is turned away without a computation, the newest hello is answered first,
 * at most a bounded number wait, and a peer turned away for want of room is
 * told the listener is overloaded (and its active side says so). Over real
 * loopback sockets; the timing targets live in bench/hello_flood.ts.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { authenticate, Connector } from "../mod.ts";
import { acceptCounterpart, vetPeer } from "../_accept.ts";
import { OVERLOAD_NOTICE, PeerReader, ShareQueue } from "../_share_queue.ts";
import {
  assertLive,
  readExactly,
  readToEnd,
  waitUntil,
  writeAll,
} from "./_helpers.ts";

const SECRET = "correct horse battery staple, 32";
const SECRET_BYTES = new TextEncoder().encode(SECRET);

function dial(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** A well-formed hello of the secret exchange (version 2). */
function hello(): Uint8Array {
  const bytes = new Uint8Array(34);
  bytes[0] = 2;
  crypto.getRandomValues(bytes.subarray(2));
  return bytes;
}

/** A promise with its resolve function outside. */
function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
} {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => resolve = done);
  return { promise, resolve };
}

/** A connected pair on loopback: [the client's end, the listener's end]. */
async function pair(): Promise<[Deno.Conn, Deno.Conn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return await Promise.all([dial(listener.addr.port), listener.accept()]);
}

/** Sends a hello and closes at once, as a flooder does. */
async function helloThenClose(port: number): Promise<void> {
  let conn: Deno.Conn;
  try {
    conn = await dial(port);
  } catch {
    return; // the listener closed: the counterpart won
  }
  try {
    await writeAll(conn, hello());
  } catch {
    // reset by the listener: fine
  } finally {
    conn.close();
  }
}

// ------------------------------------------------------ the share queue --

Deno.test("ShareQueue turns away a peer that closed after its hello without computing its share", async () => {
  const [client, server] = await pair();
  const queue = new ShareQueue();
  try {
    client.close();
    const peer = new PeerReader(server);
    peer.readAhead();
    await waitUntil(() => peer.settled, 5000, "the read ahead settled");
    assert(peer.gone, "the read ahead saw the end of the stream");
    let computed = false;
    const error = await assertRejects(
      () =>
        queue.run(peer, () => {
          computed = true;
          return Promise.resolve();
        }, new AbortController().signal),
      Deno.errors.ConnectionReset,
    );
    assertStringIncludes(
      error.message,
      "closed the connection after its hello",
    );
    assertEquals(computed, false, "a share was computed for a peer gone");
  } finally {
    queue.close(new Error("test over"));
    server.close();
  }
});

Deno.test("ShareQueue computes one share at a time, newest hello first, and tells the oldest beyond its capacity that it is overloaded", async () => {
  const CAPACITY = 2;
  const queue = new ShareQueue({ capacity: CAPACITY });
  const pairs = await Promise.all(Array.from({ length: 6 }, pair));
  const order: number[] = [];
  const gates = pairs.map(() => deferred());
  const signal = new AbortController().signal;
  const run = (index: number) =>
    queue.run(new PeerReader(pairs[index][1]), () => {
      order.push(index);
      return gates[index].promise.then(() => index);
    }, signal);
  try {
    const first = run(0);
    await waitUntil(() => order.length === 1, 5000, "the first share started");
    // Five more hellos while the first share is being computed: the queue
    // keeps the two newest and turns the three oldest away.
    const waiting = [1, 2, 3, 4, 5].map((index) => {
      const result = run(index);
      result.catch(() => {});
      return result;
    });
    assertEquals(queue.size, CAPACITY, "hellos waiting beyond the capacity");
    for (const index of [1, 2, 3]) {
      const error = await assertRejects(
        () => waiting[index - 1],
        Deno.errors.Busy,
      );
      assertStringIncludes(error.message, "overloaded");
      assertEquals(
        await readExactly(pairs[index][0], OVERLOAD_NOTICE.length),
        OVERLOAD_NOTICE,
        "the peer turned away was not told why",
      );
    }
    assertEquals(order, [0], "a second share started during the first");
    gates.forEach((gate) => gate.resolve());
    assertEquals(await first, 0);
    assertEquals(await waiting[4], 5);
    assertEquals(await waiting[3], 4);
    assertEquals(order, [0, 5, 4], "the newest hello was not answered first");
  } finally {
    queue.close(new Error("test over"));
    for (const [client, server] of pairs) {
      client.close();
      server.close();
    }
  }
});

Deno.test("PeerReader hands the bytes it read ahead to the exchange's next reads, in order", async () => {
  const [client, server] = await pair();
  try {
    let spoke = 0;
    const peer = new PeerReader(server, () => spoke++);
    peer.readAhead();
    const sent = crypto.getRandomValues(new Uint8Array(100));
    await writeAll(client, sent);
    client.close();
    const received = await readToEnd(peer.conn);
    assertEquals(received, sent);
    assertEquals(spoke, 1, "the first bytes are reported once");
  } finally {
    server.close();
  }
});

// ------------------------------------------------- a listener's flood --

Deno.test("Connector.connect() in passive mode with a secret turns away peers that send a hello and close before computing anything, and lets the counterpart through during such a flood", async () => {
  const reasons: string[] = [];
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    secret: SECRET,
    timeout: 30_000,
    onRejectedPeer: ({ reason }) => reasons.push(reason),
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  waiting.catch(() => {}); // awaited below
  const FLOOD = 200;
  const flood = async (count: number) => {
    for (let sent = 0; sent < count; sent += 20) {
      await Promise.all(
        Array.from({ length: 20 }, () => helloThenClose(port)),
      );
    }
  };
  await flood(FLOOD);
  await waitUntil(
    () => reasons.length >= FLOOD,
    20_000,
    "every flooding peer turned away",
  );
  const before = reasons.filter((reason) =>
    reason.includes(
      "closed the connection after its hello, before the answer",
    )
  ).length;
  // A peer whose close was not seen yet is answered (and then found gone):
  // rare, but not an error.
  assert(
    before >= FLOOD * 0.9,
    `turned away before any computation: ${before} of ${FLOOD}`,
  );
  // The counterpart arrives in the middle of a second wave.
  const second = flood(FLOOD);
  using client = await new Connector({
    host: "127.0.0.1",
    port,
    secret: SECRET,
    timeout: 20_000,
  }).connect();
  using server = await waiting;
  await assertLive(client, server);
  await second;
});

Deno.test("Connector.connect() in active mode reports a listener that turned its hello away for want of room as overloaded, not as another protocol", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stop = new AbortController();
  const rejected: unknown[] = [];
  let open = true;
  const waiting = acceptCounterpart({
    listener,
    signal: stop.signal,
    allow: undefined,
    waitingHellos: 0, // no room: every hello is turned away
    vet: (conn, signal, onProgress) =>
      vetPeer(
        conn,
        { tls: false, secret: SECRET_BYTES, timeout: 10_000 },
        signal,
        onProgress,
      ),
    closeListener: () => {
      if (open) listener.close();
      open = false;
    },
    onRejected: (_peer, reason) => rejected.push(reason),
    acceptError: (error) => error,
  });
  waiting.catch(() => {}); // ended by stop.abort() below
  try {
    const error = await assertRejects(
      () =>
        new Connector({
          host: "127.0.0.1",
          port: listener.addr.port,
          secret: SECRET,
          timeout: 10_000,
        }).connect(),
      Deno.errors.Busy,
    );
    assertStringIncludes(error.message, "is overloaded");
    assert(
      !error.message.includes("another protocol"),
      `misleading: ${error.message}`,
    );
    // The same through authenticate() on a connection of one's own.
    const conn = await dial(listener.addr.port);
    try {
      await assertRejects(
        () =>
          authenticate(conn, {
            role: "active",
            secret: SECRET_BYTES,
            signal: AbortSignal.timeout(10_000),
          }),
        Deno.errors.Busy,
        "overloaded",
      );
    } finally {
      conn.close();
    }
    await waitUntil(() => rejected.length === 2, 5000, "both counted");
    for (const reason of rejected) {
      assert(reason instanceof Deno.errors.Busy, String(reason));
      assertStringIncludes(reason.message, "overloaded");
    }
  } finally {
    stop.abort(new Deno.errors.Interrupted("test over"));
    await waiting.catch(() => {});
  }
});

Deno.test("Connector.connect() in active mode names a dropped connection (a flooded listener) first when the listener closes without answering its hello", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dropping = (async () => {
    using conn = await listener.accept();
    await readExactly(conn, 34); // the hello, then nothing
  })();
  const error = await assertRejects(
    () =>
      new Connector({
        host: "127.0.0.1",
        port: listener.addr.port,
        secret: SECRET,
        timeout: 10_000,
      }).connect(),
    Deno.errors.InvalidData,
  );
  await dropping;
  assertStringIncludes(error.message, "without answering this side's hello");
  assertStringIncludes(error.message, "flooded");
});

Deno.test("acceptCounterpart() keeps at most waitingHellos hellos waiting: peers that hold their connection after a hello are answered or told the listener is overloaded, none left without an answer", async () => {
  const CAPACITY = 4;
  const PEERS = 40;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stop = new AbortController();
  let overloaded = 0;
  let open = true;
  const waiting = acceptCounterpart({
    listener,
    signal: stop.signal,
    allow: undefined,
    waitingHellos: CAPACITY,
    handshakeTimeout: 30_000,
    vet: (conn, signal, onProgress) =>
      vetPeer(
        conn,
        { tls: false, secret: SECRET_BYTES, timeout: 30_000 },
        signal,
        onProgress,
      ),
    closeListener: () => {
      if (open) listener.close();
      open = false;
    },
    onRejected: (_peer, reason) => {
      if (reason instanceof Error && reason.message.includes("overloaded")) {
        overloaded++;
      }
    },
    acceptError: (error) => error,
  });
  waiting.catch(() => {}); // ended by stop.abort() below
  const peers: Deno.Conn[] = [];
  try {
    for (let index = 0; index < PEERS; index++) {
      peers.push(await dial(listener.addr.port));
    }
    // All hellos at once: far more than the listener answers in a turn.
    await Promise.all(peers.map((conn) => writeAll(conn, hello())));
    // Each peer gets the listener's hello and share (66 bytes), or the notice.
    const answers = await Promise.all(
      peers.map((conn) => readExactly(conn, OVERLOAD_NOTICE.length)),
    );
    const told = answers.filter((answer) =>
      answer.every((byte, index) =>
        byte === OVERLOAD_NOTICE[index]
      )
    ).length;
    const answered = answers.filter((answer) => answer[0] === 2).length;
    assertEquals(told + answered, PEERS, "a peer got something else");
    assertEquals(overloaded, told, "every peer told was counted");
    assert(told >= 1, "the queue never overflowed");
  } finally {
    stop.abort(new Deno.errors.Interrupted("test over"));
    await waiting.catch(() => {});
    for (const conn of peers) conn.close();
  }
});
