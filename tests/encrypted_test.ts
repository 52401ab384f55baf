import {
  assert,
  assertEquals,
  assertFalse,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  authenticate,
  Connector,
  type ConnectorTransport,
  EncryptedConn,
  type RejectedPeer,
  type TransportAddress,
} from "../mod.ts";
import { _createWithEpoch } from "../encrypted.ts";
import {
  concat,
  LOCALHOST_TLS,
  readToEnd,
  secretListener,
  TEST_CA,
  writeAll,
} from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SECRET = "42-apple-cabin-stone-quiet";

/** `conn` with every call passed through, counting its `closeWrite()` calls. */
function countingHalfCloses(
  conn: Deno.Conn,
  halfCloses: { count: number },
): Deno.Conn {
  return new Proxy(conn, {
    get(target, property) {
      if (property === "closeWrite") {
        return () => {
          halfCloses.count++;
          return target.closeWrite();
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * A transport that says it cannot half-close, as a relay's or proxy's does:
 * real loopback dials, each handed through `wrap`.
 */
function transportWithoutHalfClose(
  wrap: (conn: Deno.Conn) => Deno.Conn = (conn) => conn,
): ConnectorTransport {
  return {
    halfClose: false,
    connect: async (address: TransportAddress) =>
      wrap(
        await Deno.connect({
          hostname: "127.0.0.1",
          port: (address as { port: number }).port,
        }),
      ),
  };
}

/** Two connected loopback sockets. */
async function socketPair(): Promise<[Deno.Conn, Deno.Conn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
}

/** Two EncryptedConns over loopback after a real exchange. */
async function encryptedPair(
  options: { halfClose?: boolean } = {},
): Promise<[EncryptedConn, EncryptedConn]> {
  const [client, server] = await socketPair();
  const secret = encoder.encode(SECRET);
  const signal = AbortSignal.timeout(10_000);
  const [a, p] = await Promise.all([
    authenticate(client, { role: "active", secret, signal, encrypt: true }),
    authenticate(server, { role: "passive", secret, signal, encrypt: true }),
  ]);
  assert(a.encrypted && p.encrypted);
  assertEquals(a.sessionKey, p.sessionKey);
  assertEquals(a.sessionId, p.sessionId);
  return await Promise.all([
    EncryptedConn.create(client, { role: "active", ...a }, options),
    EncryptedConn.create(server, { role: "passive", ...p }, options),
  ]);
}

/** Deterministic bytes that are not all alike. */
function pattern(length: number, seed = 1): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let index = 0; index < length; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

Deno.test("EncryptedConn round trip: write, closeWrite, read to the end each way, byte-exact, records of at most 1 MiB", async () => {
  const [client, server] = await encryptedPair();
  using _client = client;
  using _server = server;
  const request = pattern(3 * 1024 * 1024 + 17, 3); // four records
  const reply = pattern(100_000, 4);
  const [received] = await Promise.all([
    readToEnd(server),
    (async () => {
      await writeAll(client, request);
      await client.closeWrite();
    })(),
  ]);
  assertEquals(received, request);
  await writeAll(server, reply);
  await server.closeWrite();
  assertEquals(await readToEnd(client), reply);
  assertEquals(await client.read(new Uint8Array(1)), null, "the end stays");
  assertEquals(client.bytes, { written: request.length, read: reply.length });
});

Deno.test("EncryptedConn readable and writable streams carry the bytes and end after the end record, the socket staying open", async () => {
  const [client, server] = await encryptedPair();
  using _client = client;
  using _server = server;
  const data = pattern(300_000, 5);
  const sending = ReadableStream.from([
    data.subarray(0, 1000),
    data.subarray(1000),
  ])
    .pipeTo(client.writable); // closing the writable sends the end record
  const chunks: Uint8Array[] = [];
  for await (const chunk of server.readable) chunks.push(chunk);
  await sending;
  assertEquals(concat(chunks), data);
  // The readable ended, the other direction still works.
  await writeAll(server, encoder.encode("after"));
  await server.closeWrite();
  assertEquals(decoder.decode(await readToEnd(client)), "after");
});

Deno.test("EncryptedConn after closeWrite refuses writes with BrokenPipe, closeWrite twice is the same end, close twice does nothing", async () => {
  const [client, server] = await encryptedPair();
  using _server = server;
  const first = client.closeWrite();
  assert(first === client.closeWrite());
  await first;
  await assertRejects(
    () => client.write(encoder.encode("late")),
    Deno.errors.BrokenPipe,
    "closeWrite() already ended",
  );
  assertEquals(await server.read(new Uint8Array(4)), null);
  client.close();
  client.close();
});

Deno.test("EncryptedConn.create checks the role, the session and halfClose", async () => {
  const [client, server] = await socketPair();
  using _client = client;
  using _server = server;
  const session = {
    sessionKey: new Uint8Array(64),
    sessionId: new Uint8Array(66),
  };
  await assertRejects(
    () =>
      EncryptedConn.create(client, {
        role: "both" as "active",
        ...session,
      }),
    TypeError,
    'expected "active" or "passive"',
  );
  await assertRejects(
    () =>
      EncryptedConn.create(client, {
        role: "active",
        sessionKey: "key" as unknown as Uint8Array,
        sessionId: new Uint8Array(66),
      }),
    TypeError,
    "sessionKey and sessionId",
  );
  await assertRejects(
    () =>
      EncryptedConn.create(client, { role: "active", ...session }, {
        halfClose: "no" as unknown as boolean,
      }),
    TypeError,
    "halfClose",
  );
});

Deno.test("EncryptedConn with halfClose: false ends its direction with the end record alone and half-closes the socket never", async () => {
  const [client, server] = await socketPair();
  const halfCloses = { count: 0 };
  const spied = countingHalfCloses(client, halfCloses);
  const session = {
    sessionKey: pattern(64, 9),
    sessionId: pattern(66, 10),
  };
  using active = await EncryptedConn.create(
    spied,
    { role: "active", ...session },
    { halfClose: false },
  );
  using passive = await EncryptedConn.create(server, {
    role: "passive",
    ...session,
  });
  await writeAll(active, encoder.encode("one way"));
  await active.closeWrite();
  assertEquals(decoder.decode(await readToEnd(passive)), "one way");
  assertEquals(halfCloses.count, 0);
  // The other direction is untouched by the end of this one.
  await writeAll(passive, encoder.encode("and back"));
  await passive.closeWrite();
  assertEquals(decoder.decode(await readToEnd(active)), "and back");
  assertEquals(halfCloses.count, 0);
});

Deno.test("EncryptedConn derives a new key every epoch and still delivers in order; the default epoch is 65536 records", async () => {
  const [client, server] = await socketPair();
  const session = { sessionKey: pattern(64, 1), sessionId: pattern(66, 2) };
  using active = await _createWithEpoch(client, {
    role: "active",
    ...session,
  }, 2);
  using passive = await _createWithEpoch(server, {
    role: "passive",
    ...session,
  }, 2);
  // One write of 5.5 MiB: records of 1 MiB each (six), a key every two.
  const data = pattern(5.5 * 1024 * 1024, 8);
  const reading = readToEnd(passive);
  await writeAll(active, data);
  await active.closeWrite();
  assertEquals(await reading, data);
  // The same stream read with the default epoch fails at record 2: a key
  // change really happened there, and the 2 MiB before it were delivered.
  const [client2, server2] = await socketPair();
  using active2 = await _createWithEpoch(client2, {
    role: "active",
    ...session,
  }, 2);
  using passive2 = await EncryptedConn.create(server2, {
    role: "passive",
    ...session,
  });
  const writing = writeAll(active2, data).then(() => active2.closeWrite());
  writing.catch(() => {});
  let delivered = 0;
  const buffer = new Uint8Array(64 * 1024);
  const error = await assertRejects(async () => {
    while (true) {
      const count = await passive2.read(buffer);
      if (count === null) break;
      assertEquals(
        buffer.subarray(0, count),
        data.subarray(delivered, delivered + count),
      );
      delivered += count;
    }
  }, Deno.errors.InvalidData);
  assertStringIncludes(error.message, "record 2 failed its integrity check");
  assertEquals(delivered, 2 * 1024 * 1024);
  passive2.close();
  await writing.catch(() => {});
});

Deno.test("EncryptedConn refuses a header that announces more than 1 MiB before allocating, and an unknown record type", async () => {
  for (
    const [header, message] of [
      [Uint8Array.of(0, 0x7f, 0xff, 0xff, 0xff), "announces 2147483647 bytes"],
      [Uint8Array.of(0, 0, 0, 0, 3), "announces 3 bytes"],
      [Uint8Array.of(9, 0, 0, 0, 32), "unknown type 9"],
    ] as const
  ) {
    const [client, server] = await socketPair();
    using _client = client;
    using passive = await EncryptedConn.create(server, {
      role: "passive",
      sessionKey: pattern(64),
      sessionId: pattern(66),
    });
    await writeAll(client, header);
    const error = await assertRejects(
      () => passive.read(new Uint8Array(10)),
      Deno.errors.InvalidData,
      message,
    );
    assertStringIncludes(error.message, "was altered in transit");
    // The error stays.
    await assertRejects(
      () => passive.read(new Uint8Array(10)),
      Deno.errors.InvalidData,
      message,
    );
  }
});

Deno.test("EncryptedConn: a stream that ends without the end record is truncated, between records or inside one", async () => {
  for (const cut of [0, 3, 20]) {
    const [client, server] = await socketPair();
    const session = { sessionKey: pattern(64), sessionId: pattern(66) };
    using passive = await EncryptedConn.create(server, {
      role: "passive",
      ...session,
    });
    // A real sender whose bytes we cut: write a record through a tap.
    const [tapIn, tapOut] = await socketPair();
    using sender = await EncryptedConn.create(tapIn, {
      role: "active",
      ...session,
    });
    await writeAll(sender, encoder.encode("complete record"));
    const record = new Uint8Array(5 + 15 + 16);
    let filled = 0;
    while (filled < record.length) {
      filled += (await tapOut.read(record.subarray(filled)))!;
    }
    tapOut.close();
    await writeAll(client, cut === 0 ? record : record.subarray(0, cut));
    await client.closeWrite();
    const buffer = new Uint8Array(100);
    if (cut === 0) {
      assertEquals(
        decoder.decode(buffer.subarray(0, (await passive.read(buffer))!)),
        "complete record",
      );
    }
    await assertRejects(
      () => passive.read(buffer),
      Deno.errors.InvalidData,
      cut === 0
        ? "was truncated: the connection ended between records without the peer's authenticated end record"
        : "was truncated: the connection ended inside a record",
    );
    client.close();
  }
});

Deno.test("The record test vector of docs/secret.md: key, nonce and plaintext give the documented bytes, recomputed here with WebCrypto", async () => {
  const docs = await Deno.readTextFile(
    new URL("../docs/secret.md", import.meta.url),
  );
  const hex = (bytes: Uint8Array) =>
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const value = (name: string) => {
    const match = docs.match(new RegExp(`^${name} += ([0-9a-f ]+)$`, "m"));
    assert(match, `docs/secret.md has no line "${name} = ..."`);
    return match[1].replaceAll(" ", "");
  };
  const isk = new Uint8Array(64).fill(0x11);
  const sid = new Uint8Array(66);
  sid.fill(0xaa, 0, 32);
  sid.fill(0xbb, 32, 64);
  sid.set([0x03, 0x02], 64);
  const base = await crypto.subtle.importKey("raw", isk, "HKDF", false, [
    "deriveBits",
  ]);
  const keyOf = async (direction: string, epoch: number) => {
    const info = new Uint8Array([
      ...encoder.encode(`@transfer/connect records ${direction}`),
      0,
      0,
      0,
      epoch,
    ]);
    return new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "HKDF", hash: "SHA-256", salt: sid, info },
        base,
        256,
      ),
    );
  };
  const keyAp0 = await keyOf("active to passive", 0);
  assertEquals(value("key_ap_0"), hex(keyAp0));
  assertEquals(value("key_pa_0"), hex(await keyOf("passive to active", 0)));
  assertEquals(value("key_ap_1"), hex(await keyOf("active to passive", 1)));
  const key = await crypto.subtle.importKey("raw", keyAp0, "AES-GCM", false, [
    "encrypt",
  ]);
  const seal = async (
    counter: number,
    header: Uint8Array<ArrayBuffer>,
    text: string,
  ) => {
    const iv = new Uint8Array(12);
    iv[11] = counter;
    assertEquals(value(`nonce_${counter}`), hex(iv));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: header },
      key,
      encoder.encode(text),
    );
    return hex(header) + hex(new Uint8Array(sealed));
  };
  assertEquals(
    value("record_0"),
    await seal(0, Uint8Array.of(0, 0, 0, 0, 27), "Pay 100 EUR"),
  );
  assertEquals(
    value("record_1"),
    await seal(1, Uint8Array.of(1, 0, 0, 0, 16), ""),
  );
  assertMatch(docs, /plaintext_0 += "Pay 100 EUR"/);

  // And EncryptedConn writes exactly these bytes.
  const [client, server] = await socketPair();
  using _server = server;
  using sender = await EncryptedConn.create(client, {
    role: "active",
    sessionKey: isk,
    sessionId: sid,
  });
  await writeAll(sender, encoder.encode("Pay 100 EUR"));
  await sender.closeWrite();
  assertEquals(
    hex(await readToEnd(server)),
    value("record_0") + value("record_1"),
  );
});

Deno.test("Connector with a secret returns an EncryptedConn on both sides; with encrypt: false the secret only authenticates and the stream stays byte-exact and plain", async () => {
  {
    const { passive, port } = await secretListener(SECRET);
    await using _ = passive;
    const active = new Connector({ host: "127.0.0.1", port, secret: SECRET });
    const [client, server] = await Promise.all([
      active.connect(),
      passive.connect(),
    ]);
    using _client = client;
    using _server = server;
    assert(client instanceof EncryptedConn);
    assert(server instanceof EncryptedConn);
  }
  {
    const { passive, port } = await secretListener(SECRET, { encrypt: false });
    await using _ = passive;
    const active = new Connector({
      host: "127.0.0.1",
      port,
      secret: SECRET,
      encrypt: false,
    });
    const [client, server] = await Promise.all([
      active.connect(),
      passive.connect(),
    ]);
    using _client = client;
    using _server = server;
    assertFalse(client instanceof EncryptedConn);
    assertFalse(server instanceof EncryptedConn);
    const bytes = pattern(70_000, 7);
    await writeAll(client, bytes);
    await client.closeWrite();
    assertEquals(await readToEnd(server), bytes);
  }
});

Deno.test("Connector with tls and a secret keeps TLS as the protection and encrypts nothing twice", async () => {
  const { passive, port } = await secretListener(SECRET, {
    tls: LOCALHOST_TLS,
  });
  await using _ = passive;
  const active = new Connector({
    host: "localhost",
    port,
    secret: SECRET,
    tls: { caCerts: [TEST_CA] },
  });
  const [client, server] = await Promise.all([
    active.connect(),
    passive.connect(),
  ]);
  using _client = client;
  using _server = server;
  assert("handshake" in client, "a TLS conn");
  assertFalse(server instanceof EncryptedConn);
  await writeAll(client, encoder.encode("over TLS"));
  await client.closeWrite();
  assertEquals(decoder.decode(await readToEnd(server)), "over TLS");
});

Deno.test("Connector encryption mismatch fails on both sides, either way round, saying what to change", async () => {
  for (const passiveEncrypts of [false, true]) {
    let report: (peer: RejectedPeer) => void = () => {};
    const rejected = new Promise<RejectedPeer>((resolve) => report = resolve);
    const { passive, port } = await secretListener(SECRET, {
      encrypt: passiveEncrypts,
      onRejectedPeer: (peer) => report(peer),
    });
    await using _ = passive;
    const waiting = passive.connect();
    waiting.catch(() => {});
    const error = await assertRejects(
      () =>
        new Connector({
          host: "127.0.0.1",
          port,
          secret: SECRET,
          encrypt: !passiveEncrypts,
        }).connect(),
      Deno.errors.InvalidData,
    );
    assertStringIncludes(
      error.message,
      passiveEncrypts
        ? "encrypts the stream after it, but this side does not"
        : "does not encrypt the stream after it",
    );
    assertStringIncludes(error.message, "encrypt: false");
    assertFalse(error.message.includes(SECRET));
    // The passive side turned it away for the same reason and waits on.
    assertStringIncludes(
      (await rejected).reason,
      passiveEncrypts
        ? "does not encrypt the stream after it"
        : "encrypts the stream after it, but this side does not",
    );
    passive.close();
    await assertRejects(() => waiting, Deno.errors.Interrupted);
  }
});

Deno.test("Connector option encrypt: a boolean, and only with secret", () => {
  assertThrows(
    () => new Connector({ host: "127.0.0.1", port: 1, encrypt: true }),
    TypeError,
    'Invalid option "encrypt": the stream is encrypted with the key of the secret exchange, so it needs "secret"',
  );
  assertThrows(
    () =>
      new Connector({
        host: "127.0.0.1",
        port: 1,
        secret: SECRET,
        encrypt: "yes" as unknown as boolean,
      }),
    TypeError,
    'Invalid option "encrypt": expected a boolean',
  );
});

Deno.test("Connector over a transport with halfClose: false gives an EncryptedConn whose closeWrite never half-closes the socket", async () => {
  const halfCloses = { count: 0 };
  // A relay-like transport: real loopback sockets, seen through the spy.
  const transport = transportWithoutHalfClose((conn) =>
    countingHalfCloses(conn, halfCloses)
  );
  const { passive, port } = await secretListener(SECRET);
  await using _ = passive;
  const active = new Connector({
    host: "127.0.0.1",
    port,
    secret: SECRET,
    transport,
  });
  const [client, server] = await Promise.all([
    active.connect(),
    passive.connect(),
  ]);
  using _client = client;
  using _server = server;
  assert(client instanceof EncryptedConn);
  await writeAll(client, encoder.encode("through a relay"));
  await client.closeWrite();
  assertEquals(decoder.decode(await readToEnd(server)), "through a relay");
  await writeAll(server, encoder.encode("and back"));
  await server.closeWrite();
  assertEquals(decoder.decode(await readToEnd(client)), "and back");
  assertEquals(halfCloses.count, 0);
});

/**
 * A middlebox like tinyproxy: forwards both ways, holds what the active side
 * sends for `hold` ms first, and when the passive side ends its direction
 * (a half-close or a close) closes both connections at once, dropping what
 * it still holds.
 */
function cuttingMiddlebox(target: number, hold: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const client = await listener.accept();
    listener.close();
    const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
    let cut = false;
    const closeBoth = () => {
      cut = true;
      for (const conn of [client, server]) {
        try {
          conn.close();
        } catch { /* closed already */ }
      }
    };
    const upstream = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      for (;;) {
        const count = await client.read(buffer).catch(() => null);
        if (count === null) return closeBoth();
        const chunk = buffer.slice(0, count);
        await new Promise((resolve) => setTimeout(resolve, hold));
        if (cut) return;
        await writeAll(server, chunk).catch(() => {});
      }
    })();
    const downstream = (async () => {
      const buffer = new Uint8Array(64 * 1024);
      for (;;) {
        const count = await server.read(buffer).catch(() => null);
        if (count === null) return closeBoth(); // the passive side ended
        await writeAll(client, buffer.subarray(0, count)).catch(() => {});
      }
    })();
    await Promise.all([upstream, downstream]);
  })();
  return { port: listener.addr.port, done };
}

Deno.test("a passive side never half-closes its encrypted stream: a middlebox that ends both directions on the passive side's half-close still delivers the active side's records, and the active side closes after the passive one", async () => {
  const { passive, port } = await secretListener(SECRET);
  const middlebox = cuttingMiddlebox(port, 30);
  // The active side reaches the passive one through the middlebox, on a
  // transport that says it cannot half-close (as proxyTransport does).
  const active = new Connector({
    host: "127.0.0.1",
    port: middlebox.port,
    secret: SECRET,
    timeout: 10_000,
    transport: transportWithoutHalfClose(),
  });
  const [client, server] = await Promise.all([
    active.connect(),
    passive.connect(),
  ]);
  assert(client instanceof EncryptedConn && server instanceof EncryptedConn);
  const data = encoder.encode("the last bytes before the end record");
  // The passive side has nothing to send: it ends its direction first.
  await server.closeWrite();
  await writeAll(client, data);
  await client.closeWrite();
  assertEquals(await readToEnd(server), data);
  assertEquals(await readToEnd(client), new Uint8Array(0));
  const closing = client.closeAfterPeer(5000);
  server.close();
  await closing;
  await middlebox.done;
  passive.close();
});

Deno.test("closeAfterPeer() waits for the peer's close on a path that cannot half-close, closes at once otherwise, and checks its timeout", async () => {
  const { passive, port } = await secretListener(SECRET);
  const [client, server] = await Promise.all([
    new Connector({ host: "127.0.0.1", port, secret: SECRET }).connect(),
    passive.connect(),
  ]);
  assert(client instanceof EncryptedConn && server instanceof EncryptedConn);
  await assertRejects(() => client.closeAfterPeer(-1), RangeError, "timeout");
  await Promise.all([client.closeWrite(), server.closeWrite()]);
  assertEquals(await readToEnd(client), new Uint8Array(0));
  // The active side half-closes over a direct connection: it closes at once.
  await client.closeAfterPeer(5000);
  assertEquals(await readToEnd(server), new Uint8Array(0));
  // The passive side does not half-close: it waits for the peer's close
  // (here already done), however long the timeout.
  const started = performance.now();
  await server.closeAfterPeer(60_000);
  assert(performance.now() - started < 5000);
  passive.close();
});
