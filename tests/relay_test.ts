/**
 * The relay transport's edge cases against scripted fake relays over real
 * sockets: the registration line, a relay that drops an unpaired wait, one
 * that answers "impatient" or garbage, a side of the same role, timeouts,
 * aborts and close. The behaviour against the real magic-wormhole transit
 * relay is tested in tests/peers/relay_test.ts.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Connector, relayToken } from "../mod.ts";
import { writeAll } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SECRET = "4711-apple-cabin-stone-quiet";
const REGISTRATION = /^please relay ([0-9a-f]{64}) for side ([0-9a-f]{16})\n$/;

/** Reads one line (the registration), byte by byte; null at the end. */
async function readLine(conn: Deno.Conn): Promise<string | null> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while (true) {
    const count = await conn.read(one);
    if (count === null) {
      return bytes.length === 0 ? null : decoder.decode(Uint8Array.from(bytes));
    }
    bytes.push(one[0]);
    if (one[0] === 0x0a) return decoder.decode(Uint8Array.from(bytes));
  }
}

/** Reads until the peer closes; the bytes read. */
async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  try {
    while (true) {
      const count = await conn.read(buffer);
      if (count === null) break;
      chunks.push(...buffer.subarray(0, count));
    }
  } catch {
    // A reset ends it too.
  }
  return Uint8Array.from(chunks);
}

/**
 * A scripted relay: each accepted connection's registration line goes to
 * `script` with the connection and its index; the relay closes the
 * connection when the script returns.
 */
function fakeRelay(
  script: (
    conn: Deno.Conn,
    line: string | null,
    index: number,
  ) => Promise<void>,
):
  & { port: number; lines: (string | null)[]; done(): Promise<void> }
  & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lines: (string | null)[] = [];
  const running: Promise<void>[] = [];
  const loop = (async () => {
    for (let index = 0;; index++) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      running.push((async () => {
        try {
          const line = await readLine(conn);
          lines.push(line);
          await script(conn, line, index);
        } catch {
          // The client went away: the script ends.
        } finally {
          try {
            conn.close();
          } catch { /* closed by the script */ }
        }
      })());
    }
  })();
  const done = async () => {
    try {
      listener.close();
    } catch { /* closed */ }
    await loop;
    await Promise.all(running);
  };
  return {
    port: listener.addr.port,
    lines,
    done,
    [Symbol.asyncDispose]: done,
  };
}

function relayOption(port: number, channel = "4711") {
  return { host: "127.0.0.1", port, channel };
}

Deno.test("relay: the registration is the transit relay's line, with a token from the channel alone (never the secret)", async () => {
  const registered = Promise.withResolvers<void>();
  await using relay = fakeRelay(async (conn) => {
    registered.resolve();
    await readToEnd(conn);
  });
  const passive = new Connector({
    mode: "passive",
    relay: relayOption(relay.port),
    secret: SECRET,
  });
  const addr = await passive.listen() as Deno.NetAddr;
  await registered.promise;
  passive.close();
  await relay.done();
  const match = REGISTRATION.exec(relay.lines[0]!);
  assert(match !== null, `registration line: ${relay.lines[0]}`);
  assertEquals(match[1], await relayToken("4711"));
  assertEquals(addr.port, relay.port, "the listener's addr is the relay's");
  assertEquals(addr.hostname, "127.0.0.1");
  for (const word of SECRET.split("-").slice(1)) {
    assert(!relay.lines[0]!.includes(word));
  }
});

Deno.test("relay: the token depends on the channel only: the same for any secret, another for another channel", async () => {
  assertEquals(await relayToken("4711"), await relayToken("4711"));
  assert(await relayToken("4711") !== await relayToken("4712"));
  assertMatch(await relayToken("x"), /^[0-9a-f]{64}$/);
});

Deno.test("relay: the listener registers again when the relay drops its unpaired wait, and after turning a peer away", async () => {
  const third = Promise.withResolvers<void>();
  await using relay = fakeRelay(async (conn, _line, index) => {
    if (index === 0) return; // the relay drops the wait
    if (index === 1) {
      await conn.write(encoder.encode("ok\n"));
      await conn.write(Uint8Array.of(0x61)); // an active side, then silence
    } else third.resolve();
    await readToEnd(conn);
  });
  const rejected = Promise.withResolvers<string>();
  await using passive = new Connector({
    mode: "passive",
    relay: relayOption(relay.port),
    secret: SECRET,
    handshakeTimeout: 300,
    onRejectedPeer: (peer) => rejected.resolve(peer.address!),
  });
  await passive.listen();
  const connecting = passive.connect();
  // The paired peer says nothing: the secret exchange times out and the
  // peer is turned away, while the listener waits again (a third
  // registration, made as soon as the second one paired).
  assertEquals(await rejected.promise, `127.0.0.1:${relay.port}`);
  await third.promise;
  assertEquals(passive.rejectedPeers, 1);
  passive.close();
  await assertRejects(() => connecting, Deno.errors.Interrupted);
  await relay.done();
  assertEquals(relay.lines.length, 3);
  for (const line of relay.lines) assertMatch(line!, REGISTRATION);
  assertEquals(
    new Set(relay.lines.map((line) => REGISTRATION.exec(line!)![2])).size,
    1,
    "one side for every registration of a connector",
  );
});

Deno.test("relay: a relay that drops every registration at once is reported after 3 tries, not waited on forever", async () => {
  await using relay = fakeRelay(() => Promise.resolve());
  const active = new Connector({
    relay: relayOption(relay.port),
    secret: SECRET,
    timeout: 20_000,
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.InvalidData,
  );
  assertStringIncludes(error.message, "through the relay at 127.0.0.1:");
  assertStringIncludes(error.message, "3 times in a row");
  assertStringIncludes(error.message, "magic-wormhole transit relay");
  assertEquals(relay.lines.length, 3);
  await using passive = new Connector({
    mode: "passive",
    relay: relayOption(relay.port),
    secret: SECRET,
    timeout: 20_000,
  });
  await assertRejects(() => passive.connect(), Deno.errors.InvalidData);
});

for (
  const [name, answer, expected] of [
    ["impatient", "impatient\n", '"impatient"'],
    ["bad handshake", "bad handshake\n", '"bad handshake"'],
    ["an HTTP server", "HTTP/1.1 400 Bad Request\r\n\r\n", "HTTP/1.1 400"],
    ["a short answer", "o", '"o"'],
  ] as const
) {
  Deno.test(`relay: an answer other than ok (${name}) fails both sides with InvalidData naming it`, async () => {
    await using relay = fakeRelay(async (conn) => {
      await conn.write(encoder.encode(answer));
    });
    const active = new Connector({
      relay: relayOption(relay.port),
      secret: SECRET,
      timeout: 10_000,
    });
    const error = await assertRejects(
      () => active.connect(),
      Deno.errors.InvalidData,
    );
    assertStringIncludes(error.message, expected);
    assertStringIncludes(error.message, 'instead of "ok"');
    assertStringIncludes(error.message, "the relay at 127.0.0.1:");
    await using passive = new Connector({
      mode: "passive",
      relay: relayOption(relay.port),
      secret: SECRET,
      timeout: 10_000,
    });
    await assertRejects(() => passive.connect(), Deno.errors.InvalidData);
  });
}

Deno.test("relay: a listener paired with another listener (two pairs on one channel) registers again instead of waiting on it", async () => {
  const third = Promise.withResolvers<void>();
  await using relay = fakeRelay(async (conn, _line, index) => {
    if (index > 1) {
      third.resolve();
      return void await readToEnd(conn);
    }
    await conn.write(encoder.encode("ok\n"));
    await conn.write(Uint8Array.of(0x70)); // a passive side
    await readToEnd(conn);
  });
  await using passive = new Connector({
    mode: "passive",
    relay: relayOption(relay.port),
    secret: SECRET,
  });
  await passive.listen();
  const connecting = passive.connect();
  await third.promise;
  assertEquals(passive.rejectedPeers, 0, "never vetted: not a counterpart");
  passive.close();
  await assertRejects(() => connecting, Deno.errors.Interrupted);
});

Deno.test("relay: a connector paired with another connector registers again, and the next pairing (with a listener) goes on to the secret exchange", async () => {
  await using relay = fakeRelay(async (conn, _line, index) => {
    await conn.write(encoder.encode("ok\n"));
    await conn.write(Uint8Array.of(index === 0 ? 0x61 : 0x70));
    const role = new Uint8Array(1);
    assertEquals(await conn.read(role), 1);
    assertEquals(role[0], 0x61, "the connector says it is active");
    await readToEnd(conn);
  });
  const active = new Connector({
    relay: relayOption(relay.port),
    secret: SECRET,
    // Past the longest pause before registering again (1 s, relay.ts's
    // SAME_ROLE_PAUSE): with 1 s here the second registration lost the race
    // now and then (1 of 3 runs of the suite).
    timeout: 3_000,
  });
  // The fake listener never answers the secret exchange: the timeout ends it
  // after the pairing.
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.TimedOut,
  );
  assertStringIncludes(
    error.message,
    "connecting to channel 4711 through the relay at 127.0.0.1:",
  );
  assertEquals(relay.lines.length, 2);
});

Deno.test("relay: an active side without a timeout waits at the relay as long as its handshake timeout, and says where", async () => {
  await using relay = fakeRelay(async (conn) => void await readToEnd(conn));
  const active = new Connector({
    relay: relayOption(relay.port),
    secret: SECRET,
    handshakeTimeout: 300,
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.TimedOut,
  );
  assertStringIncludes(
    error.message,
    "waiting at the relay at 127.0.0.1:",
  );
  assertStringIncludes(error.message, "for the listener on channel 4711");
  await relay.done();
  assertEquals(relay.lines.length, 1, "the registration was closed");
});

Deno.test("relay: aborting the signal while waiting at the relay rejects with its reason and closes the registration", async () => {
  const registered = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  await using relay = fakeRelay(async (conn) => {
    registered.resolve();
    await readToEnd(conn);
    closed.resolve();
  });
  const controller = new AbortController();
  const active = new Connector({
    relay: relayOption(relay.port),
    secret: SECRET,
    signal: controller.signal,
  });
  const connecting = active.connect();
  await registered.promise;
  controller.abort(new Error("stop"));
  await assertRejects(() => connecting, Error, "stop");
  await closed.promise;
});

Deno.test("relay: close() on a waiting listener closes its registration at the relay", async () => {
  const registered = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  await using relay = fakeRelay(async (conn) => {
    registered.resolve();
    await readToEnd(conn);
    closed.resolve();
  });
  const passive = new Connector({
    mode: "passive",
    relay: relayOption(relay.port),
    secret: SECRET,
  });
  const connecting = passive.connect();
  await registered.promise;
  passive.close();
  await assertRejects(() => connecting, Deno.errors.Interrupted);
  await closed.promise;
});

Deno.test("relay: a relay that refuses connections fails like a refused port, retried as asked", async () => {
  const port = (() => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return listener.addr.port;
  })();
  const active = new Connector({
    relay: relayOption(port),
    secret: SECRET,
    retry: { attempts: 2, delay: 10 },
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.ConnectionRefused,
  );
  assertStringIncludes(
    error.message,
    `Cannot connect to channel 4711 through the relay at 127.0.0.1:${port} (after 2 attempts)`,
  );
  const passive = new Connector({
    mode: "passive",
    relay: relayOption(port),
    secret: SECRET,
  });
  const refused = await assertRejects(
    () => passive.listen(),
    Deno.errors.ConnectionRefused,
  );
  assertStringIncludes(refused.message, "through the relay at 127.0.0.1:");
});

Deno.test("relay: a connector needs net access to the relay alone", () => {
  for (const mode of ["active", "passive"] as const) {
    const connector = new Connector({
      mode,
      relay: { host: "relay.example", port: 4001, channel: "4711" },
      secret: SECRET,
    });
    assertEquals(connector.permissions, [
      { name: "net", host: "relay.example:4001" },
    ]);
  }
  const withFile = new Connector({
    relay: { host: "::1", port: 4001, channel: "c" },
    secret: { file: "/tmp/secret" },
  });
  assertEquals(withFile.permissions, [
    { name: "net", host: "[::1]:4001" },
    { name: "read", path: "/tmp/secret" },
  ]);
});

Deno.test("relay: the option is checked up front: a secret is required, and nothing that names another way to reach the peer", () => {
  const relay = { host: "127.0.0.1", port: 4001, channel: "4711" };
  const noSecret = assertThrows(
    () => new Connector({ relay }),
    TypeError,
  );
  assertStringIncludes(noSecret.message, "clear text");
  const clear = assertThrows(
    () => new Connector({ relay, secret: SECRET, encrypt: false }),
    TypeError,
  );
  assertStringIncludes(clear.message, "nothing is relayed in clear text");
  for (
    const extra of [
      { host: "127.0.0.1" },
      { port: 7000 },
      { path: "/tmp/x.sock" },
      { transport: { connect: () => Promise.reject(new Error("no")) } },
      { tls: true },
    ]
  ) {
    const error = assertThrows(
      () => new Connector({ relay, secret: SECRET, ...extra }),
      TypeError,
    );
    assertStringIncludes(error.message, 'cannot be combined with "relay"');
  }
  assertThrows(
    () =>
      new Connector({
        mode: "passive",
        relay,
        secret: SECRET,
        allow: ["127.0.0.1"],
      }),
    TypeError,
    'cannot be combined with "relay"',
  );
  for (
    const [bad, kind, text] of [
      [null, TypeError, "expected { host, port, channel }"],
      [{ ...relay, extra: 1 }, TypeError, 'Unknown relay option "extra"'],
      [{ ...relay, host: "a b" }, TypeError, "relay.host"],
      [{ ...relay, port: 0 }, RangeError, "relay.port"],
      [{ ...relay, port: "4001" }, TypeError, "relay.port"],
      [{ ...relay, channel: "" }, TypeError, "relay.channel"],
      [{ ...relay, channel: "x".repeat(257) }, RangeError, "relay.channel"],
    ] as const
  ) {
    const error = assertThrows(
      // deno-lint-ignore no-explicit-any
      () => new Connector({ relay: bad as any, secret: SECRET }),
    );
    assertInstanceOf(error, kind);
    assertStringIncludes((error as Error).message, text);
  }
});

/**
 * A working transit relay in miniature: it pairs the first two
 * registrations and forwards both ways, with a hook on what goes from the
 * second side to register (the connector) to the first (the listener).
 * `tamper` may change a chunk, or return "cut" to close both ends, as the
 * real relay does when one side closes.
 */
function hostileRelay(
  tamper: (chunk: Uint8Array, offset: number) => Uint8Array | "cut",
): { port: number } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks: Promise<void>[] = [];
  const waiting: Deno.Conn[] = [];
  const forward = async (
    from: Deno.Conn,
    to: Deno.Conn,
    hook: boolean,
  ) => {
    const buffer = new Uint8Array(16384);
    let offset = 0;
    try {
      for (let count; (count = await from.read(buffer)) !== null;) {
        let chunk: Uint8Array = buffer.slice(0, count);
        if (hook) {
          const result = tamper(chunk, offset);
          if (result === "cut") break;
          chunk = result;
        }
        offset += count;
        for (let sent = 0; sent < chunk.length;) {
          sent += await to.write(chunk.subarray(sent));
        }
      }
    } catch { /* one side went away */ }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  const loop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      assertMatch((await readLine(conn))!, REGISTRATION);
      waiting.push(conn);
      if (waiting.length < 2) continue;
      const [first, second] = waiting.splice(0, 2);
      for (const side of [first, second]) {
        await side.write(encoder.encode("ok\n"));
      }
      tasks.push(forward(second, first, true), forward(first, second, false));
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop;
      await Promise.all(tasks);
      for (const conn of waiting) conn.close();
    },
  };
}

async function pairThrough(port: number) {
  const options = {
    relay: relayOption(port),
    secret: SECRET,
    timeout: 10_000,
  };
  const passive = new Connector({ mode: "passive", ...options });
  await passive.listen();
  const [client, server] = await Promise.all([
    new Connector(options).connect(),
    passive.connect(),
  ]);
  return { client, server };
}

async function sendAndRead(client: Deno.Conn, server: Deno.Conn) {
  const data = crypto.getRandomValues(new Uint8Array(65536));
  const sending = (async () => {
    try {
      await writeAll(client, data);
      await client.closeWrite();
    } catch { /* the relay cut it */ }
  })();
  const buffer = new Uint8Array(65536);
  let received = 0;
  try {
    for (let count; (count = await server.read(buffer)) !== null;) {
      received += count;
    }
  } finally {
    await sending;
    client.close();
    server.close();
  }
  return received;
}

Deno.test("relay: a relay that flips one byte of the stream makes the receiver fail with InvalidData, never deliver it", async () => {
  await using relay = hostileRelay((chunk, offset) => {
    const at = 10_000 - offset;
    if (at >= 0 && at < chunk.length) chunk[at] ^= 0x01;
    return chunk;
  });
  const { client, server } = await pairThrough(relay.port);
  await assertRejects(
    () => sendAndRead(client, server),
    Deno.errors.InvalidData,
  );
});

Deno.test("relay: a relay that cuts the stream (closing both ends) makes the receiver fail with InvalidData, never a clean end", async () => {
  await using relay = hostileRelay((chunk, offset) =>
    offset + chunk.length > 30_000 ? "cut" : chunk
  );
  const { client, server } = await pairThrough(relay.port);
  await assertRejects(
    () => sendAndRead(client, server),
    Deno.errors.InvalidData,
  );
});

Deno.test("relay: through an honest forwarding relay the same exchange arrives whole (the control of the two tests above)", async () => {
  await using relay = hostileRelay((chunk) => chunk);
  const { client, server } = await pairThrough(relay.port);
  assertEquals(await sendAndRead(client, server), 65536);
});
