/**
 * Reliability under load and faults: hundreds of concurrent pairs, thousands
 * of sequential ones, counterparts that reset during setup or mid-transfer,
 * taken ports, `close()` and aborts racing success, exhausted retries and bad
 * names. Every outcome must be "a connection, or a clear error", and nothing
 * may leak (Deno's sanitizers stay on; open file descriptors are counted too).
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertLessOrEqual,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { Connector, type ConnectorTransport, denoTransport } from "../mod.ts";
import {
  assertLive,
  assertPeerClosed,
  freePort,
  hasIPv6,
  isRefused,
  LOCALHOST_TLS,
  randomBytes,
  readExactly,
  readToEnd,
  TEST_CA,
  withDeadline,
  writeAll,
} from "./_helpers.ts";

const encoder = new TextEncoder();
const MiB = 1024 * 1024;

// ---------------------------------------------------------------- helpers --

/** Open file descriptors of this process (Linux), or -1 elsewhere. */
function openDescriptors(): number {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].length;
  } catch {
    return -1;
  }
}

/**
 * Checks that the process holds no more file descriptors than `before`, give
 * or take `slack` that the runtime opens for itself (TLS sockets are released
 * a moment after `close()`, so this polls for up to two seconds).
 */
async function assertNoDescriptorLeak(
  before: number,
  slack = 4,
): Promise<number> {
  let now = openDescriptors();
  for (let waited = 0; now > before + slack && waited < 2000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    now = openDescriptors();
  }
  assertLessOrEqual(now, before + slack, "file descriptors leaked");
  return now;
}

/** The soft limit on open files (Linux), or Infinity when unknown. */
function openFileLimit(): number {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
      .find((text) => text.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

/** Records unhandled promise rejections while in scope. */
function watchRejections(): { readonly reasons: unknown[] } & Disposable {
  const reasons: unknown[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    reasons.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  return {
    reasons,
    [Symbol.dispose]() {
      globalThis.removeEventListener("unhandledrejection", onRejection);
    },
  };
}

type Settled<T> = { value: T; error?: undefined } | {
  value?: undefined;
  error: unknown;
};

function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then((value) => ({ value }), (error) => ({ error }));
}

/** Yields in one of several ways, so that races land at different moments. */
async function pause(step: number): Promise<void> {
  switch (step % 6) {
    case 0:
      return;
    case 1:
      await Promise.resolve();
      return;
    case 2:
      for (let index = 0; index < 20; index++) await Promise.resolve();
      return;
    case 3:
      await new Promise((resolve) => setTimeout(resolve, 0));
      return;
    case 4:
      await new Promise((resolve) => setTimeout(resolve, 1));
      return;
    default:
      await new Promise((resolve) => setTimeout(resolve, 3));
  }
}

/**
 * Opens `count` TCP connections to `hostname:port` from a `node` child
 * process and resets each (RST) as soon as it is established; resolves once
 * all are gone. Deno cannot send a reset on purpose; Node.js can.
 */
async function resetPeers(
  hostname: string,
  port: number,
  count: number,
): Promise<void> {
  const script = `
    const net = require("node:net");
    setTimeout(() => process.exit(3), 10000).unref();
    let left = ${count};
    for (let index = 0; index < ${count}; index++) {
      const socket = net.connect({ host: ${
    JSON.stringify(hostname)
  }, port: ${port} },
        () => socket.resetAndDestroy());
      socket.on("error", () => {});
      socket.on("close", () => { if (--left === 0) process.exit(0); });
    }`;
  const { code } = await new Deno.Command("node", {
    args: ["-e", script],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).output();
  assertEquals(code, 0, "the resetting peers (node) failed");
}

/** Sets up one pair and moves `size` bytes each way at once, checked. */
async function exchangeOverPair(size: number): Promise<void> {
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    timeout: 60_000,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const active = new Connector({ host: "127.0.0.1", port, timeout: 60_000 });
  const [client, server] = await Promise.all([
    active.connect(),
    passive.connect(),
  ]);
  try {
    const up = randomBytes(size);
    const down = randomBytes(size);
    const send = async (conn: Deno.Conn, data: Uint8Array) => {
      await writeAll(conn, data);
      await conn.closeWrite();
    };
    const [atServer, atClient] = await Promise.all([
      readToEnd(server),
      readToEnd(client),
      send(client, up),
      send(server, down),
    ]);
    assertEquals(atServer, up, "client → server payload");
    assertEquals(atClient, down, "server → client payload");
  } finally {
    client.close();
    server.close();
  }
}

// ------------------------------------------------------------------- load --

const CONCURRENT_PAIRS = 500;
const SEQUENTIAL_PAIRS = 2000;
const PAYLOAD = 4096;

Deno.test(`Connector sets up ${CONCURRENT_PAIRS} concurrent pairs then ${SEQUENTIAL_PAIRS} sequential ones, every payload intact, nothing leaked`, async () => {
  const needed = CONCURRENT_PAIRS * 3 + 100;
  assert(
    openFileLimit() >= needed,
    `this test needs ${needed} open files (ulimit -n), the limit is ${openFileLimit()}`,
  );
  using rejections = watchRejections();
  const descriptorsBefore = openDescriptors();
  const rssBefore = Deno.memoryUsage().rss;

  let started = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: CONCURRENT_PAIRS }, () => exchangeOverPair(PAYLOAD)),
  );
  const failures = results.filter((result) => result.status === "rejected");
  assertEquals(
    failures.length,
    0,
    `${failures.length} of ${CONCURRENT_PAIRS} concurrent pairs failed; first: ${
      (failures[0] as PromiseRejectedResult | undefined)?.reason
    }`,
  );
  const concurrentMs = performance.now() - started;
  const rssAfterConcurrent = Deno.memoryUsage().rss;

  started = performance.now();
  for (let index = 0; index < SEQUENTIAL_PAIRS; index++) {
    await exchangeOverPair(256);
  }
  const sequentialMs = performance.now() - started;

  const rssAfter = Deno.memoryUsage().rss;
  const descriptorsAfter = await assertNoDescriptorLeak(descriptorsBefore);
  console.log(
    `load: ${CONCURRENT_PAIRS} concurrent pairs × ${PAYLOAD} B each way in ${
      concurrentMs.toFixed(0)
    } ms; ${SEQUENTIAL_PAIRS} sequential pairs × 256 B each way in ${
      sequentialMs.toFixed(0)
    } ms; RSS ${(rssBefore / MiB).toFixed(1)} → ${
      (rssAfterConcurrent / MiB).toFixed(1)
    } → ${
      (rssAfter / MiB).toFixed(1)
    } MiB; open fds ${descriptorsBefore} → ${descriptorsAfter}`,
  );
  assertEquals(rejections.reasons, [], "unhandled rejections");
  assertLessOrEqual(
    rssAfter - rssBefore,
    200 * MiB,
    "resident memory grew by more than 200 MiB",
  );
});

Deno.test("Connector sets up 100 concurrent TLS pairs, each moving a checked payload both ways", async () => {
  using rejections = watchRejections();
  const descriptorsBefore = openDescriptors();
  const tlsPair = async () => {
    await using passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      tls: LOCALHOST_TLS,
      timeout: 60_000,
    });
    const { port } = await passive.listen() as Deno.NetAddr;
    const active = new Connector({
      host: "localhost",
      port,
      tls: { caCerts: [TEST_CA] },
      timeout: 60_000,
    });
    const [client, server] = await Promise.all([
      active.connect(),
      passive.connect(),
    ]);
    try {
      const up = randomBytes(PAYLOAD);
      const down = randomBytes(PAYLOAD);
      const [atServer, atClient] = await Promise.all([
        readExactly(server, PAYLOAD),
        readExactly(client, PAYLOAD),
        writeAll(client, up),
        writeAll(server, down),
      ]);
      assertEquals(atServer, up);
      assertEquals(atClient, down);
    } finally {
      client.close();
      server.close();
    }
  };
  const results = await Promise.allSettled(
    Array.from({ length: 100 }, tlsPair),
  );
  const failures = results.filter((result) => result.status === "rejected");
  assertEquals(
    failures.length,
    0,
    `first failure: ${
      (failures[0] as PromiseRejectedResult | undefined)?.reason
    }`,
  );
  assertEquals(rejections.reasons, [], "unhandled rejections");
  await assertNoDescriptorLeak(descriptorsBefore);
});

// ------------------------------------------------- resets during setup --

Deno.test("Connector.connect() in passive mode keeps waiting when peers reset before they are accepted", async () => {
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    timeout: 10_000,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  // Three peers connect and reset while nobody accepts: they sit in the
  // kernel's queue, already dead, ahead of the real counterpart.
  await resetPeers("127.0.0.1", port, 3);
  const [client, server] = await Promise.all([
    new Connector({ host: "127.0.0.1", port, timeout: 5000 }).connect(),
    passive.connect(),
  ]);
  using _client = client;
  using _server = server;
  assertEquals(
    (server.remoteAddr as Deno.NetAddr).port,
    (client.localAddr as Deno.NetAddr).port,
  );
  await assertLive(client, server);
  assertEquals(passive.rejectedPeers, 3);
});

Deno.test("Connector.connect() in passive TLS mode keeps waiting when peers reset before the handshake", async () => {
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: LOCALHOST_TLS,
    timeout: 10_000,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  await resetPeers("127.0.0.1", port, 3);
  const [client, server] = await Promise.all([
    new Connector({
      host: "localhost",
      port,
      tls: { caCerts: [TEST_CA] },
      timeout: 5000,
    }).connect(),
    passive.connect(),
  ]);
  using _client = client;
  using _server = server;
  await assertLive(client, server);
  assertEquals(passive.rejectedPeers, 3);
});

Deno.test("Connector.connect() in passive TCP mode hands over a peer that connected and closed at once: the caller sees end of stream", async () => {
  // Plain TCP has no handshake to fail: the first peer is the counterpart,
  // whatever it does next. What the caller gets is a real, honest stream.
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    timeout: 10_000,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const quitter = await Deno.connect({ hostname: "127.0.0.1", port });
  const quitterPort = (quitter.localAddr as Deno.NetAddr).port;
  quitter.close();
  using server = await passive.connect();
  assertEquals((server.remoteAddr as Deno.NetAddr).port, quitterPort);
  assertEquals(await server.read(new Uint8Array(8)), null);
  assert(await isRefused(port), "the listener is closed after the first peer");
});

Deno.test("Connector.connect() in active TLS mode rejects with a clear error when the server resets during the handshake", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serverSide = (async () => {
    const conn = await listener.accept();
    // Read one byte of the ClientHello and close with the rest unread: the
    // kernel answers with a reset.
    await conn.read(new Uint8Array(1));
    conn.close();
  })();
  const active = new Connector({
    host: "127.0.0.1",
    port: listener.addr.port,
    tls: { caCerts: [TEST_CA], hostname: "localhost" },
    timeout: 10_000,
  });
  const error = await assertRejects(() => active.connect(), Error);
  await serverSide;
  assertStringIncludes(error.message, `127.0.0.1:${listener.addr.port}`);
  assertStringIncludes(error.message, "TLS handshake");
  assert(
    !(error instanceof Deno.errors.TimedOut),
    `a reset must not look like a timeout: ${error.message}`,
  );
});

Deno.test("Connector.connect() in active TLS mode times out, naming the endpoint, when the server never answers the handshake", async () => {
  const descriptorsBefore = openDescriptors();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const active = new Connector({
    host: "127.0.0.1",
    port: listener.addr.port,
    tls: { caCerts: [TEST_CA], hostname: "localhost" },
    timeout: 300,
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.TimedOut,
  );
  assertStringIncludes(error.message, `127.0.0.1:${listener.addr.port}`);
  assertStringIncludes(error.message, "300 ms");
  // Deno 2.9.6 keeps the socket of a TLS connection closed mid-handshake
  // open until the peer acts; once the stalled server goes, nothing remains.
  (await accepted).close();
  await assertNoDescriptorLeak(descriptorsBefore);
});

Deno.test("Connector.connect() in active TLS mode explains a server that answers in plain text", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serverSide = (async () => {
    using conn = await listener.accept();
    await conn.read(new Uint8Array(4096));
    await writeAll(conn, encoder.encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await assertPeerClosed(conn, "the client never closed");
  })();
  const active = new Connector({
    host: "127.0.0.1",
    port: listener.addr.port,
    tls: { caCerts: [TEST_CA], hostname: "localhost" },
    timeout: 10_000,
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.InvalidData,
  );
  await serverSide;
  assertStringIncludes(error.message, "does not speak TLS");
});

// ------------------------------------------------------- mid-transfer --

/**
 * Writes to `conn` until a write fails (bounded in time and bytes) and
 * returns the error: a connection whose peer vanished must not keep taking
 * data as if all were well.
 */
async function writeUntilFailure(conn: Deno.Conn): Promise<unknown> {
  const chunk = new Uint8Array(16 * 1024);
  const attempt = async () => {
    for (let written = 0; written < 64 * MiB;) {
      written += await conn.write(chunk);
    }
    throw new Error("64 MiB written to a peer that is gone, without an error");
  };
  try {
    await withDeadline(attempt(), 5000, "writing to a vanished peer");
  } catch (error) {
    return error;
  }
}

Deno.test("Connection set up by Connector surfaces a peer reset mid-transfer as a write error", async () => {
  await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
  const { port } = await passive.listen() as Deno.NetAddr;
  const [client, server] = await Promise.all([
    new Connector({ host: "127.0.0.1", port, timeout: 5000 }).connect(),
    passive.connect(),
  ]);
  try {
    await writeAll(server, randomBytes(64 * 1024));
    await readExactly(client, 1);
    client.close(); // data left unread: the kernel answers with a reset
    const error = await writeUntilFailure(server);
    assert(
      error instanceof Deno.errors.BrokenPipe ||
        error instanceof Deno.errors.ConnectionReset,
      `expected BrokenPipe or ConnectionReset, got ${error}`,
    );
  } finally {
    server.close();
  }
});

Deno.test("Connection set up by Connector over TLS surfaces a peer vanishing mid-transfer as a write error", async () => {
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: LOCALHOST_TLS,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const [client, server] = await Promise.all([
    new Connector({
      host: "localhost",
      port,
      tls: { caCerts: [TEST_CA] },
      timeout: 5000,
    }).connect(),
    passive.connect(),
  ]);
  try {
    await writeAll(client, randomBytes(64 * 1024));
    await readExactly(server, 1);
    server.close(); // no close_notify, data left unread: a reset
    const error = await writeUntilFailure(client);
    assert(
      error instanceof Deno.errors.BrokenPipe ||
        error instanceof Deno.errors.ConnectionReset,
      `expected BrokenPipe or ConnectionReset, got ${error}`,
    );
  } finally {
    client.close();
  }
});

// -------------------------------------------------------- taken ports --

Deno.test("Connector.connect() in passive mode on a taken port rejects with AddrInUse naming the endpoint, for TCP, TLS and dual-stack", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const cases: [string, ConstructorParameters<typeof Connector>[0]][] = [
    [`127.0.0.1:${port}`, { host: "127.0.0.1", port }],
    [`127.0.0.1:${port}`, { host: "127.0.0.1", port, tls: LOCALHOST_TLS }],
  ];
  if (hasIPv6()) cases.push([`[::]:${port}`, { host: "::", port }]);
  for (const [endpoint, options] of cases) {
    const passive = new Connector({ mode: "passive", ...options });
    const error = await assertRejects(
      () => passive.connect(),
      Deno.errors.AddrInUse,
    );
    assertStringIncludes(error.message, endpoint);
    await assertRejects(() => passive.connect(), Deno.errors.Busy);
    passive.close();
  }
  // The original owner still has its port.
  const probe = await Deno.connect({ hostname: "127.0.0.1", port });
  using accepted = await taken.accept();
  probe.close();
  assertEquals(
    (accepted.remoteAddr as Deno.NetAddr).port,
    (probe.localAddr as Deno.NetAddr).port,
  );
});

// ------------------------------------------------------------- races --

const RACES = 300;

/**
 * How a race round ends the wait: at a point fixed by construction (so that
 * every outcome the race can have happens at least once), or after a pause
 * of one of several lengths, racing the peer's arrival.
 */
type Stop =
  | "before the dial"
  | "at the accept"
  | "after the hand-over"
  | "racing";

function stopOf(round: number): Stop {
  return (["before the dial", "at the accept", "after the hand-over"] as const)[
    round % 5
  ] ?? "racing";
}

/**
 * The built-in transport, calling `onAccept` when its listener has accepted a
 * peer and before the connector sees it: the peer arrives as the wait ends.
 */
function stoppingAtAccept(onAccept: () => void): ConnectorTransport {
  return {
    listen(address) {
      const listener = denoTransport.listen!(address) as Deno.Listener;
      const accept = async () => {
        const conn = await listener.accept();
        onAccept();
        return conn;
      };
      return new Proxy(listener, {
        get(target, property) {
          if (property === "accept") return accept;
          const value = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    },
  };
}

/**
 * One round of a race between ending a passive connector's wait (`stop`) and
 * a peer's arrival; returns which outcome it had, after checking that the
 * caller got the connection or the peer was closed, never both.
 */
async function raceRound(
  round: number,
  make: (transport: ConnectorTransport | undefined) => Connector,
  stop: () => void,
  expected: (error: unknown) => void,
): Promise<"handedOver" | "peerClosed" | "refused"> {
  const when = stopOf(round);
  const passive = make(
    when === "at the accept" ? stoppingAtAccept(stop) : undefined,
  );
  try {
    const { port } = await passive.listen() as Deno.NetAddr;
    const waiting = settle(passive.connect());
    if (when === "before the dial") stop();
    const dialing = settle(Deno.connect({ hostname: "127.0.0.1", port }));
    if (when === "after the hand-over") await waiting;
    if (when === "racing") await pause(round);
    if (when !== "at the accept") stop();
    const [result, dial] = await Promise.all([waiting, dialing]);
    if (result.value !== undefined) {
      assert(dial.value, "the caller got a connection nobody dialled");
      await assertLive(dial.value, result.value);
      result.value.close();
      dial.value.close();
      return "handedOver";
    }
    expected(result.error);
    if (dial.value !== undefined) {
      await assertPeerClosed(
        dial.value,
        "connect() rejected but the peer was left open",
      );
      dial.value.close();
      return "peerClosed";
    }
    assert(
      dial.error instanceof Deno.errors.ConnectionRefused ||
        dial.error instanceof Deno.errors.ConnectionReset,
      `the peer's connect failed with ${dial.error}`,
    );
    return "refused";
  } finally {
    passive.close();
  }
}

Deno.test(`Connector.close() racing an arriving peer (${RACES} times): the caller gets the connection or the peer is closed, never both; each outcome happens`, async () => {
  using rejections = watchRejections();
  const descriptorsBefore = openDescriptors();
  const outcomes = { handedOver: 0, peerClosed: 0, refused: 0 };
  for (let round = 0; round < RACES; round++) {
    let passive: Connector | undefined;
    const outcome = await raceRound(
      round,
      (transport) =>
        passive = new Connector({
          mode: "passive",
          host: "127.0.0.1",
          timeout: 10_000,
          transport,
        }),
      () => passive!.close(),
      (error) => assertInstanceOf(error, Deno.errors.Interrupted),
    );
    outcomes[outcome]++;
  }
  console.log(`close() race, TCP: ${JSON.stringify(outcomes)}`);
  // Each stop fixed by construction gives its outcome every time.
  for (const count of Object.values(outcomes)) {
    assert(count >= RACES / 5, JSON.stringify(outcomes));
  }
  assertEquals(rejections.reasons, []);
  await assertNoDescriptorLeak(descriptorsBefore);
});

Deno.test("Connector.close() racing a TLS peer mid-handshake (100 times): the caller gets the connection or the peer is closed, never both", async () => {
  using rejections = watchRejections();
  const descriptorsBefore = openDescriptors();
  const outcomes = { handedOver: 0, peerClosed: 0, peerFailed: 0 };
  for (let round = 0; round < 100; round++) {
    const passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      tls: LOCALHOST_TLS,
      timeout: 10_000,
    });
    const { port } = await passive.listen() as Deno.NetAddr;
    const waiting = settle(passive.connect());
    const dialing = settle((async () => {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      tcp.setNoDelay(true); // else Nagle holds the Finished for 40 ms
      const tls = await Deno.startTls(tcp, {
        hostname: "localhost",
        caCerts: [TEST_CA],
      });
      try {
        await tls.handshake();
      } catch (error) {
        tls.close();
        throw error;
      }
      return tls;
    })());
    await pause(round + Math.floor(round / 6));
    passive.close();
    const [result, dial] = await Promise.all([waiting, dialing]);
    if (result.value !== undefined) {
      assert(dial.value, "the caller got a connection nobody dialled");
      await assertLive(dial.value, result.value);
      result.value.close();
      dial.value.close();
      outcomes.handedOver++;
    } else {
      assertInstanceOf(result.error, Deno.errors.Interrupted);
      if (dial.value !== undefined) {
        await assertPeerClosed(
          dial.value,
          "connect() rejected but the peer was left open",
        );
        dial.value.close();
        outcomes.peerClosed++;
      } else {
        outcomes.peerFailed++;
      }
    }
  }
  console.log(`close() race, TLS: ${JSON.stringify(outcomes)}`);
  assertEquals(rejections.reasons, []);
  await assertNoDescriptorLeak(descriptorsBefore);
});

Deno.test(`Connector.connect() in passive mode with an abort racing an arriving peer (${RACES} times): the conn or signal.reason, never both; each outcome happens`, async () => {
  using rejections = watchRejections();
  const outcomes = { handedOver: 0, peerClosed: 0, refused: 0 };
  for (let round = 0; round < RACES; round++) {
    const controller = new AbortController();
    const reason = new Error(`abort ${round}`);
    const outcome = await raceRound(
      round,
      (transport) =>
        new Connector({
          mode: "passive",
          host: "127.0.0.1",
          signal: controller.signal,
          transport,
        }),
      () => controller.abort(reason),
      (error) => assertEquals(error, reason),
    );
    outcomes[outcome]++;
  }
  console.log(`abort race, passive: ${JSON.stringify(outcomes)}`);
  for (const count of Object.values(outcomes)) {
    assert(count >= RACES / 5, JSON.stringify(outcomes));
  }
  assertEquals(rejections.reasons, []);
});

/**
 * A server that accepts every connection at once (and, for TLS, takes part
 * in the handshake at once), so that an active connector can win a race.
 */
class EagerServer implements AsyncDisposable {
  readonly port: number;
  #listener: Deno.Listener;
  #accepted: Deno.Conn[] = [];
  #loop: Promise<void>;

  constructor(tls: boolean) {
    this.#listener = tls
      ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...LOCALHOST_TLS })
      : Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    const listener = this.#listener;
    this.#loop = (async () => {
      try {
        while (true) {
          const conn = await listener.accept();
          this.#accepted.push(conn);
          if (tls) (conn as Deno.TlsConn).handshake().catch(() => {});
        }
      } catch {
        // The listener was closed.
      }
    })();
  }

  /**
   * Every connection that reached the server so far, in order: a sentinel
   * connection made now shows up after all of them.
   */
  async takeAll(): Promise<Deno.Conn[]> {
    const sentinel = await Deno.connect({
      hostname: "127.0.0.1",
      port: this.port,
    });
    const sentinelPort = (sentinel.localAddr as Deno.NetAddr).port;
    try {
      for (let waited = 0; waited < 5000; waited += 2) {
        const index = this.#accepted.findIndex((conn) =>
          (conn.remoteAddr as Deno.NetAddr).port === sentinelPort
        );
        if (index >= 0) {
          const before = this.#accepted.splice(0, index + 1);
          before.pop()!.close();
          return before;
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      throw new Error("the sentinel connection was never accepted");
    } finally {
      sentinel.close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#loop;
    for (const conn of this.#accepted) conn.close();
  }
}

async function activeAbortRace(tls: boolean, rounds: number) {
  const outcomes = { connected: 0, abortedAndClosed: 0, abortedEarly: 0 };
  await using server = new EagerServer(tls);
  for (let round = 0; round < rounds; round++) {
    const controller = new AbortController();
    const active = new Connector({
      host: "127.0.0.1",
      port: server.port,
      signal: controller.signal,
      timeout: 10_000,
      ...(tls ? { tls: { caCerts: [TEST_CA], hostname: "localhost" } } : {}),
    });
    const connecting = settle(active.connect());
    await pause(tls ? round + Math.floor(round / 6) : round);
    const reason = new Error(`abort ${round}`);
    controller.abort(reason);
    const result = await connecting;
    const accepted = await server.takeAll();
    try {
      if (result.value !== undefined) {
        const mine = accepted.filter((conn) =>
          (conn.remoteAddr as Deno.NetAddr).port ===
            (result.value!.localAddr as Deno.NetAddr).port
        );
        assertEquals(mine.length, 1, "the server sees the connection");
        await assertLive(result.value, mine[0]);
        result.value.close();
        outcomes.connected++;
      } else {
        assertEquals(result.error, reason);
        for (const conn of accepted) {
          await assertPeerClosed(
            conn,
            "connect() rejected but its connection was left open",
          );
        }
        if (accepted.length > 0) outcomes.abortedAndClosed++;
        else outcomes.abortedEarly++;
      }
    } finally {
      for (const conn of accepted) conn.close();
    }
  }
  return outcomes;
}

Deno.test(`Connector.connect() in active mode with an abort racing success (${RACES} times): the conn or signal.reason, never both`, async () => {
  using rejections = watchRejections();
  const descriptorsBefore = openDescriptors();
  const outcomes = await activeAbortRace(false, RACES);
  console.log(`abort race, active TCP: ${JSON.stringify(outcomes)}`);
  assertEquals(rejections.reasons, []);
  await assertNoDescriptorLeak(descriptorsBefore);
});

Deno.test("Connector.connect() in active TLS mode with an abort racing the handshake (100 times): the conn or signal.reason, never both", async () => {
  using rejections = watchRejections();
  const outcomes = await activeAbortRace(true, 100);
  console.log(`abort race, active TLS: ${JSON.stringify(outcomes)}`);
  assertEquals(rejections.reasons, []);
});

const RESOLUTION_RACES = 1000;

Deno.test(`Connector.connect() in active mode with an abort during name resolution (${RESOLUTION_RACES} times) leaves no socket open behind`, async () => {
  // Deno 2.9.6: a Deno.connect() whose signal fires while the host name is
  // being resolved rejects, yet connects anyway and keeps the socket open,
  // unreachable (and unseen by the resource sanitizer). The peer sees it.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      while (true) accepted.push(await listener.accept());
    } catch {
      // The listener was closed: done.
    }
  })();
  const outcomes = { connected: 0, aborted: 0 };
  try {
    for (let round = 0; round < RESOLUTION_RACES; round++) {
      const controller = new AbortController();
      const connecting = settle(
        new Connector({ host: "localhost", port, signal: controller.signal })
          .connect(),
      );
      await pause(3); // lands in the resolution most often here
      controller.abort(new Error("abort"));
      const result = await connecting;
      if (result.value !== undefined) {
        result.value.close();
        outcomes.connected++;
      } else {
        outcomes.aborted++;
      }
    }
    console.log(`abort race, name resolution: ${JSON.stringify(outcomes)}`);
    // Every connection the server saw must end: the resolved ones were
    // closed above, the aborted ones by the connector.
    let leftOpen = 0;
    await Promise.all(accepted.map(async (conn) => {
      try {
        await assertPeerClosed(conn, "open", 2000);
      } catch {
        leftOpen++;
      }
    }));
    assertEquals(
      leftOpen,
      0,
      `${leftOpen} connections stayed open after connect() rejected`,
    );
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});

// ------------------------------------------------- retries and names --

/** The built-in TCP connect, counting calls. */
function countingTransport(): ConnectorTransport & { calls: number } {
  const transport = {
    calls: 0,
    connect(
      address: { transport: string; hostname?: string; port?: number },
      signal: AbortSignal,
    ): Promise<Deno.Conn> {
      transport.calls++;
      return Deno.connect({
        hostname: address.hostname!,
        port: address.port!,
        signal,
      });
    },
  };
  return transport as ConnectorTransport & { calls: number };
}

Deno.test("Connector.connect() in active mode makes exactly retry.attempts attempts, backing off, then reports the refusal", async () => {
  const port = freePort();
  const transport = countingTransport();
  const active = new Connector({
    host: "127.0.0.1",
    port,
    transport,
    retry: { attempts: 5, delay: 4, maxDelay: 16 },
  });
  const started = performance.now();
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.ConnectionRefused,
  );
  const elapsed = performance.now() - started;
  assertEquals(transport.calls, 5);
  assertStringIncludes(error.message, `127.0.0.1:${port}`);
  assertStringIncludes(error.message, "after 5 attempts");
  assertInstanceOf(error.cause, Deno.errors.ConnectionRefused);
  // Waits of 4, 8, 16, 16 ms (capped): a lower bound only.
  assert(elapsed >= 40, `retries did not back off: ${elapsed} ms`);
});

Deno.test("Connector.connect() in active mode stops retrying when timeout expires and reports TimedOut", async () => {
  const port = freePort();
  const transport = countingTransport();
  const active = new Connector({
    host: "127.0.0.1",
    port,
    transport,
    timeout: 200,
    retry: { attempts: 1000, delay: 20 },
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.TimedOut,
  );
  assertStringIncludes(error.message, "200 ms");
  assert(
    transport.calls >= 1 && transport.calls < 1000,
    `${transport.calls} attempts`,
  );
});

Deno.test("Connector.connect() in active mode with an abort during the backoff rejects at once with signal.reason", async () => {
  const controller = new AbortController();
  const transport = countingTransport();
  const active = new Connector({
    host: "127.0.0.1",
    port: freePort(),
    transport,
    signal: controller.signal,
    retry: { attempts: 3, delay: 60_000 },
  });
  const connecting = active.connect();
  while (transport.calls === 0) await pause(3);
  await pause(4);
  const reason = new Error("give up now");
  controller.abort(reason);
  const error = await assertRejects(() => connecting);
  assertEquals(error, reason);
  assertEquals(transport.calls, 1);
});

Deno.test("Connector.connect() in active mode reports an unresolvable name clearly, keeps the cause and does not retry it", async () => {
  for (const tls of [false, true]) {
    const transport = countingTransport();
    const active = new Connector({
      host: "no-such-host.invalid",
      port: 7000,
      timeout: 10_000,
      retry: { attempts: 3, delay: 1 },
      ...(tls ? { tls: { caCerts: [TEST_CA] } } : { transport }),
    });
    const error = await assertRejects(() => active.connect(), Error);
    assertStringIncludes(error.message, "no-such-host.invalid:7000");
    assertStringIncludes(error.message, "lookup");
    assertInstanceOf(error.cause, Error, "the original error is the cause");
    assertStringIncludes(error.message, (error.cause as Error).message);
    if (!tls) assertEquals(transport.calls, 1, "a bad name is not retried");
  }
});
