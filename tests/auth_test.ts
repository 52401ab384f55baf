import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  authenticate,
  Connector,
  type ConnectorOptions,
  parseSecretOption,
  resolveSecret,
} from "../mod.ts";
import { fixture, isRefused, readExactly, writeAll } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SECRET = "correct horse battery staple, 32";
const OTHER_SECRET = "a different secret of 32 bytes!!";

/** A passive connector on 127.0.0.1 with a bound port. */
async function listening(
  options: Partial<ConnectorOptions> = {},
): Promise<{ passive: Connector; port: number }> {
  const passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    timeout: 10_000,
    secret: SECRET,
    ...options,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  return { passive, port };
}

function active(
  port: number,
  options: Partial<ConnectorOptions> = {},
): Connector {
  return new Connector({
    host: "127.0.0.1",
    port,
    timeout: 10_000,
    secret: SECRET,
    ...options,
  });
}

/**
 * Reads until the other side closes (EOF or a reset) and returns how many
 * bytes came; fails if it is still open after `limit` milliseconds.
 */
async function drainToEnd(conn: Deno.Conn, limit = 15_000): Promise<number> {
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    conn.close();
  }, limit);
  const buffer = new Uint8Array(1024);
  let total = 0;
  try {
    while (true) {
      const count = await conn.read(buffer);
      if (count === null) break;
      total += count;
    }
  } catch (error) {
    // A reset, or a TLS peer that closed without close_notify, is an end too.
    if (
      !expired && !(error instanceof Deno.errors.ConnectionReset) &&
      !(error instanceof Deno.errors.UnexpectedEof)
    ) throw error;
  } finally {
    clearTimeout(timer);
  }
  if (expired) {
    throw new Error(
      `The connector did not close the connection within ${limit} ms (${total} bytes came)`,
    );
  }
  return total;
}

/** Proves a connection works both ways with a first byte that must arrive intact. */
async function assertDataFlows(
  client: Deno.Conn,
  server: Deno.Conn,
): Promise<void> {
  await writeAll(client, encoder.encode("\x00first from active"));
  assertEquals(
    decoder.decode(await readExactly(server, 18)),
    "\x00first from active",
  );
  await writeAll(server, encoder.encode("\xffreply"));
  assertEquals(await readExactly(client, 7), encoder.encode("\xffreply"));
}

// An independent implementation of the wire format in docs/secret.md, used
// to check interoperability and to play misbehaving peers.
const LABEL = encoder.encode("@transfer/connect shared-secret v1");

async function proofFor(
  secret: string,
  role: "active" | "passive",
  activeNonce: Uint8Array,
  passiveNonce: Uint8Array,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const message = new Uint8Array([
    ...LABEL,
    0,
    ...encoder.encode(role),
    0,
    ...activeNonce,
    ...passiveNonce,
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, message));
}

function hello(): Uint8Array {
  const frame = new Uint8Array(33);
  frame[0] = 1;
  crypto.getRandomValues(frame.subarray(1));
  return frame;
}

Deno.test("the proof format reproduces the test vector of docs/secret.md (computed with OpenSSL)", async () => {
  const secret = "0123456789abcdef0123456789abcdef";
  const nonceActive = new Uint8Array(32).fill(0xaa);
  const noncePassive = new Uint8Array(32).fill(0xbb);
  const hex = (bytes: Uint8Array) =>
    Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  const docs = await Deno.readTextFile(
    new URL("../docs/secret.md", import.meta.url),
  );
  for (const role of ["active", "passive"] as const) {
    const proof = hex(
      await proofFor(secret, role, nonceActive, noncePassive),
    );
    assertStringIncludes(docs, `proof of the ${role} side: `);
    assertMatch(docs, new RegExp(`proof of the ${role} side: +${proof}`));
  }
});

Deno.test("Connector with a secret in both modes connects and data flows both ways, first byte intact", async () => {
  const { passive, port } = await listening();
  await using _ = passive;
  const [client, server] = await Promise.all([
    active(port).connect(),
    passive.connect(),
  ]);
  try {
    await assertDataFlows(client, server);
    assertEquals(passive.rejectedPeers, 0);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("Connector with a secret leaves application data written right after the exchange to the caller on both sides", async () => {
  const { passive, port } = await listening();
  await using _ = passive;
  // Each side writes as soon as its own connect() resolves, possibly while
  // the other is still reading the last frame of the exchange.
  const [client, server] = await Promise.all([
    active(port).connect().then(async (conn) => {
      await writeAll(conn, encoder.encode("A1"));
      return conn;
    }),
    passive.connect().then(async (conn) => {
      await writeAll(conn, encoder.encode("P1"));
      return conn;
    }),
  ]);
  try {
    assertEquals(decoder.decode(await readExactly(server, 2)), "A1");
    assertEquals(decoder.decode(await readExactly(client, 2)), "P1");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("Connector in passive mode interoperates with an independent implementation that sends its proof and data in one write", async () => {
  const { passive, port } = await listening();
  await using _ = passive;
  const waiting = passive.connect();
  using peer = await Deno.connect({ hostname: "127.0.0.1", port });
  const own = hello();
  await writeAll(peer, own);
  const theirs = await readExactly(peer, 33);
  assertEquals(theirs[0], 1, "version byte");
  const nonceActive = own.subarray(1);
  const noncePassive = theirs.subarray(1);
  const proof = await proofFor(SECRET, "active", nonceActive, noncePassive);
  await writeAll(peer, new Uint8Array([...proof, ...encoder.encode("data!")]));
  assertEquals(
    await readExactly(peer, 32),
    await proofFor(SECRET, "passive", nonceActive, noncePassive),
    "the passive proof follows the documented format",
  );
  using server = await waiting;
  assertEquals(decoder.decode(await readExactly(server, 5)), "data!");
  assertEquals(passive.rejectedPeers, 0);
});

Deno.test("Connector in active mode interoperates with an independent implementation that sends its proof and data in one write", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connecting = active(listener.addr.port).connect();
  using peer = await listener.accept();
  const own = hello();
  await writeAll(peer, own);
  const theirs = await readExactly(peer, 33);
  assertEquals(theirs[0], 1, "version byte");
  const nonceActive = theirs.subarray(1);
  const noncePassive = own.subarray(1);
  const proof = await proofFor(SECRET, "passive", nonceActive, noncePassive);
  await writeAll(peer, new Uint8Array([...proof, ...encoder.encode("data!")]));
  assertEquals(
    await readExactly(peer, 32),
    await proofFor(SECRET, "active", nonceActive, noncePassive),
    "the active proof follows the documented format",
  );
  using client = await connecting;
  assertEquals(decoder.decode(await readExactly(client, 5)), "data!");
});

Deno.test("Connector with a wrong secret: the active side rejects with PermissionDenied, the passive side drops it and keeps waiting", async () => {
  const { passive, port } = await listening();
  await using _ = passive;
  const waiting = passive.connect();
  const error = await assertRejects(
    () => active(port, { secret: OTHER_SECRET }).connect(),
    Deno.errors.PermissionDenied,
    `the peer at 127.0.0.1:${port} did not prove it holds the shared secret`,
  );
  for (const secret of [SECRET, OTHER_SECRET]) {
    assertFalse(error.message.includes(secret), "the message reveals a secret");
  }
  // The intruder never took the slot: the right counterpart still gets in.
  using client = await active(port).connect();
  using server = await waiting;
  assertEquals(passive.rejectedPeers, 1);
  await assertDataFlows(client, server);
});

Deno.test("Connector in active mode refuses a passive side holding another secret", async () => {
  const { passive, port } = await listening({ secret: OTHER_SECRET });
  await using _ = passive;
  const waiting = passive.connect();
  await assertRejects(
    () => active(port).connect(),
    Deno.errors.PermissionDenied,
    "did not prove it holds the shared secret",
  );
  passive.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);
});

Deno.test("Connector in passive mode drops a peer that says nothing after handshakeTimeout and still accepts the real counterpart", async () => {
  const { passive, port } = await listening({ handshakeTimeout: 1000 });
  await using _ = passive;
  const waiting = passive.connect();
  using silent = await Deno.connect({ hostname: "127.0.0.1", port });
  // The silent peer gets the hello, then the connection is closed.
  assertEquals(await drainToEnd(silent), 33);
  assertEquals(passive.rejectedPeers, 1);
  using client = await active(port).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
  assertEquals(passive.rejectedPeers, 1);
});

Deno.test("Connector in passive mode lets the real counterpart in while a silent peer is still pending", async () => {
  const { passive, port } = await listening({ handshakeTimeout: 60_000 });
  await using _ = passive;
  const waiting = passive.connect();
  using silent = await Deno.connect({ hostname: "127.0.0.1", port });
  assertEquals((await readExactly(silent, 33))[0], 1);
  using client = await active(port).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
  // The pending peer was closed when the counterpart won, not counted.
  assertEquals(await drainToEnd(silent), 0);
  assertEquals(passive.rejectedPeers, 0);
});

Deno.test("Connector in passive mode drops peers that send garbage and still accepts the real counterpart", async () => {
  const { passive, port } = await listening();
  await using _ = passive;
  const waiting = passive.connect();
  // Plain text of the hello's length: wrong version byte.
  const http = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = encoder.encode("GET / HTTP/1.1\r\nHost: example\r\n\r\n");
  assertEquals(request.length, 33);
  await writeAll(http, request);
  assertEquals(await drainToEnd(http), 33);
  http.close();
  // The right version byte, then random bytes for the proof.
  const random = await Deno.connect({ hostname: "127.0.0.1", port });
  const garbage = new Uint8Array(65);
  crypto.getRandomValues(garbage);
  garbage[0] = 1;
  await writeAll(random, garbage);
  assertEquals(await drainToEnd(random), 65);
  random.close();
  assertEquals(passive.rejectedPeers, 2);
  using client = await active(port).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
  assertEquals(passive.rejectedPeers, 2);
});

Deno.test("Connector in passive mode refuses an answer replayed from an earlier session and still accepts the real counterpart", async () => {
  // Session 1: a real pair through a relay that records what the active side sends.
  const first = await listening();
  await using _first = first.passive;
  using relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const recorded: Uint8Array[] = [];
  const relaying = (async () => {
    using fromActive = await relay.accept();
    using toPassive = await Deno.connect({
      hostname: "127.0.0.1",
      port: first.port,
    });
    for (const length of [33, 32]) {
      const sent = await readExactly(fromActive, length);
      recorded.push(sent);
      await writeAll(toPassive, sent);
      await writeAll(fromActive, await readExactly(toPassive, length));
    }
  })();
  const [client, server] = await Promise.all([
    active(relay.addr.port).connect(),
    first.passive.connect(),
  ]);
  await relaying;
  client.close();
  server.close();

  // Session 2: the recording is replayed to a passive side with the same secret.
  const { passive, port } = await listening();
  await using _ = passive;
  const waiting = passive.connect();
  const replay = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(replay, new Uint8Array([...recorded[0], ...recorded[1]]));
  assertEquals(await drainToEnd(replay), 65);
  replay.close();
  assertEquals(passive.rejectedPeers, 1);
  using realClient = await active(port).connect();
  using realServer = await waiting;
  await assertDataFlows(realClient, realServer);
});

Deno.test("Connector in active mode refuses a peer that reflects its own proof back", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connecting = active(listener.addr.port).connect();
  using peer = await listener.accept();
  await writeAll(peer, hello());
  await readExactly(peer, 33);
  await writeAll(peer, await readExactly(peer, 32));
  await assertRejects(
    () => connecting,
    Deno.errors.PermissionDenied,
    "did not prove it holds the shared secret",
  );
});

Deno.test("Connector in active mode refuses a peer that echoes its hello with InvalidData", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connecting = active(listener.addr.port).connect();
  using peer = await listener.accept();
  await writeAll(peer, await readExactly(peer, 33));
  await assertRejects(
    () => connecting,
    Deno.errors.InvalidData,
    "sent back this side's own nonce",
  );
});

Deno.test("Connector in active mode reports a peer that does not speak the protocol with InvalidData", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  // A plain-text greeting: wrong version byte.
  const greeting = active(port).connect();
  {
    using peer = await listener.accept();
    await writeAll(
      peer,
      encoder.encode("SSH-2.0-OpenSSH_9.6\r\n" + "x".repeat(40)),
    );
    await assertRejects(
      () => greeting,
      Deno.errors.InvalidData,
      "its first byte is 0x53, expected the version byte 0x01",
    );
  }
  // A peer that closes after a few bytes.
  const closing = active(port).connect();
  {
    const peer = await listener.accept();
    await writeAll(peer, new Uint8Array([1, 2, 3]));
    peer.close();
    const error = await assertRejects(() => closing, Deno.errors.InvalidData);
    assertStringIncludes(
      error.message,
      "closed the connection after 3 of the 33 bytes",
    );
    assertStringIncludes(error.message, `127.0.0.1:${port}`);
  }
});

Deno.test("Connector in active mode times out inside the exchange with TimedOut when the peer says nothing", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const connecting = active(port, { timeout: 300 }).connect();
  using peer = await listener.accept();
  await assertRejects(
    () => connecting,
    Deno.errors.TimedOut,
    `Timed out after 300 ms connecting to 127.0.0.1:${port}`,
  );
  // The connection was closed: the peer sees the hello, then the end.
  assertEquals(await drainToEnd(peer), 33);
});

Deno.test("Connector in active mode rejects with signal.reason when aborted inside the exchange", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const controller = new AbortController();
  const connecting = active(listener.addr.port, { signal: controller.signal })
    .connect();
  using peer = await listener.accept();
  await readExactly(peer, 33);
  const reason = new Error("stop now");
  controller.abort(reason);
  const error = await assertRejects(() => connecting);
  assertEquals(error, reason);
  assertEquals(await drainToEnd(peer), 0);
});

Deno.test("Connector with a secret and TLS together authenticates inside the encrypted channel", async () => {
  const tls = {
    cert: fixture("localhost.pem"),
    key: fixture("localhost.key.pem"),
  };
  const { passive, port } = await listening({ tls });
  await using _ = passive;
  const waiting = passive.connect();
  const caCerts = [fixture("ca.pem")];
  await assertRejects(
    () => active(port, { tls: { caCerts }, secret: OTHER_SECRET }).connect(),
    Deno.errors.PermissionDenied,
    "did not prove it holds the shared secret",
  );
  using client = await active(port, { tls: { caCerts } }).connect();
  using server = await waiting;
  assert("handshake" in client, "the active side got a TLS connection");
  await assertDataFlows(client, server);
  assertEquals(passive.rejectedPeers, 1);
});

Deno.test("Connector with TLS and a secret drops a peer that completes TLS and then says nothing, and still accepts the real counterpart", async () => {
  const tls = {
    cert: fixture("localhost.pem"),
    key: fixture("localhost.key.pem"),
  };
  const { passive, port } = await listening({ tls, handshakeTimeout: 2000 });
  await using _ = passive;
  const waiting = passive.connect();
  const caCerts = [fixture("ca.pem")];
  using silent = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts,
  });
  await silent.handshake();
  assertEquals(await drainToEnd(silent), 33);
  assertEquals(passive.rejectedPeers, 1);
  using client = await active(port, { tls: { caCerts } }).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
});

Deno.test("Connector in passive mode with allow and a secret drops a peer outside allow before sending it anything", async () => {
  const { passive, port } = await listening({ allow: ["10.0.0.0/8"] });
  await using _ = passive;
  const waiting = passive.connect();
  using stranger = await Deno.connect({ hostname: "127.0.0.1", port });
  assertEquals(await drainToEnd(stranger), 0, "no hello for a stranger");
  assertEquals(passive.rejectedPeers, 1);
  passive.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);
});

Deno.test("Connector with a secret over a unix socket connects both ways", async () => {
  const directory = await Deno.makeTempDir();
  const path = `${directory}/auth.sock`;
  try {
    await using passive = new Connector({
      mode: "passive",
      path,
      secret: SECRET,
    });
    await passive.listen();
    const [client, server] = await Promise.all([
      new Connector({ path, secret: SECRET, timeout: 10_000 }).connect(),
      passive.connect(),
    ]);
    try {
      await assertDataFlows(client, server);
    } finally {
      client.close();
      server.close();
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("new Connector() refuses a secret shorter than 16 bytes with RangeError naming the length and the minimum", () => {
  const error = assertThrows(
    () => new Connector({ port: 1, secret: "short" }),
    RangeError,
  );
  assertStringIncludes(error.message, "5 bytes long");
  assertStringIncludes(error.message, "at least 16 bytes");
  assertFalse(
    error.message.includes("short"),
    "the message reveals the secret",
  );
  assertThrows(
    () => new Connector({ port: 1, secret: new Uint8Array(15) }),
    RangeError,
    "15 bytes long",
  );
  // Bytes, not characters: 8 two-byte characters are 16 bytes.
  new Connector({ port: 1, secret: "é".repeat(8) });
  new Connector({ port: 1, secret: new Uint8Array(16) });
});

Deno.test("new Connector() refuses a secret of the wrong shape with TypeError", () => {
  for (
    const secret of [
      42,
      null,
      [],
      {},
      new Uint16Array(16),
      { file: "" },
      { file: 1 },
      { env: "" },
      { env: "A=B" },
      { file: "a", env: "B" },
      { path: "a" },
    ]
  ) {
    assertThrows(
      () => new Connector({ port: 1, secret: secret as string }),
      TypeError,
      "secret",
    );
  }
});

Deno.test("parseSecretOption() copies the bytes: changing the caller's array later changes nothing", async () => {
  const bytes = encoder.encode(SECRET);
  const source = parseSecretOption(bytes)!;
  bytes.fill(0);
  assertEquals(decoder.decode(await resolveSecret(source)), SECRET);
});

Deno.test("Connector reads the secret from a file without its trailing newline, and needs read permission for it", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, `${SECRET}\r\n`);
    const { passive, port } = await listening({ secret: { file } });
    await using _ = passive;
    assertEquals(passive.permissions, [
      { name: "net", host: "127.0.0.1:0" },
      { name: "read", path: file },
    ]);
    const connector = active(port, { secret: { file } });
    assertEquals(connector.permissions, [
      { name: "net", host: `127.0.0.1:${port}` },
      { name: "read", path: file },
    ]);
    // The other side holds the same secret as a string, without newline.
    const [client, server] = await Promise.all([
      active(port).connect(),
      passive.connect(),
    ]);
    client.close();
    server.close();
    // And the file-based active side against a string-based passive side.
    const other = await listening();
    await using _other = other.passive;
    const [client2, server2] = await Promise.all([
      active(other.port, { secret: { file } }).connect(),
      other.passive.connect(),
    ]);
    client2.close();
    server2.close();
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("Connector refuses a missing or short secret file before taking the port", async () => {
  const directory = await Deno.makeTempDir();
  try {
    const missing = `${directory}/missing.txt`;
    const passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      secret: { file: missing },
    });
    await assertRejects(
      () => passive.listen(),
      Deno.errors.NotFound,
      `Cannot read the secret file "${missing}": no such file`,
    );
    const short = `${directory}/short.txt`;
    await Deno.writeTextFile(short, "0123456789abcde\n");
    const error = await assertRejects(
      () => active(1, { secret: { file: short } }).connect(),
      RangeError,
      "15 bytes long",
    );
    assertStringIncludes(error.message, short);
    assertFalse(error.message.includes("0123456789abcde"));
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test({
  name:
    "Connector without read permission for the secret file rejects with NotCapable naming --allow-read=<path>",
  permissions: { net: ["127.0.0.1"], read: false },
  async fn() {
    const file = "/nonexistent/secret.txt";
    const passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      secret: { file },
    });
    await assertRejects(
      () => passive.listen(),
      Deno.errors.NotCapable,
      `--allow-read=${file}`,
    );
    passive.close();
    await assertRejects(
      () => active(1, { secret: { file } }).connect(),
      Deno.errors.NotCapable,
      `--allow-read=${file}`,
    );
  },
});

Deno.test("Connector reads the secret from an environment variable and needs env permission for it", async () => {
  const name = "TRANSFER_CONNECT_AUTH_TEST_SECRET";
  Deno.env.set(name, SECRET);
  try {
    const { passive, port } = await listening({ secret: { env: name } });
    await using _ = passive;
    assertEquals(passive.permissions, [
      { name: "net", host: "127.0.0.1:0" },
      { name: "env", variable: name },
    ]);
    const [client, server] = await Promise.all([
      active(port).connect(),
      passive.connect(),
    ]);
    client.close();
    server.close();
  } finally {
    Deno.env.delete(name);
  }
  await assertRejects(
    () => active(1, { secret: { env: name } }).connect(),
    Deno.errors.NotFound,
    `The environment variable ${name} is not set`,
  );
});

Deno.test({
  name:
    "Connector without env permission for the secret variable rejects with NotCapable naming --allow-env=NAME",
  permissions: { net: ["127.0.0.1"], env: false },
  async fn() {
    const passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      port: 0,
      secret: { env: "TRANSFER_SECRET" },
    });
    const error = await assertRejects(
      () => passive.listen(),
      Deno.errors.NotCapable,
    );
    assertStringIncludes(error.message, "--allow-env=TRANSFER_SECRET");
    passive.close();
  },
});

Deno.test("authenticate() consumes exactly the exchange, so exchanges and data can follow each other on one connection", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const secret = encoder.encode(SECRET);
  const signal = AbortSignal.timeout(10_000);
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  try {
    for (let round = 0; round < 3; round++) {
      await Promise.all([
        authenticate(client, "active", secret, signal),
        authenticate(server, "passive", secret, signal),
      ]);
      await writeAll(client, new Uint8Array([round]));
      assertEquals(await readExactly(server, 1), new Uint8Array([round]));
    }
    await assertRejects(
      () => authenticate(client, "active", secret.subarray(0, 15), signal),
      RangeError,
      "15 bytes long",
    );
    // Same roles on both ends: each expects the other role's proof.
    const results = await Promise.allSettled([
      authenticate(client, "active", secret, signal),
      authenticate(server, "active", secret, signal),
    ]);
    for (const result of results) {
      assertEquals(result.status, "rejected");
      assertInstanceOf(
        (result as PromiseRejectedResult).reason,
        Deno.errors.PermissionDenied,
      );
    }
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("Connector in passive mode with a secret frees the port once the counterpart is in", async () => {
  const { passive, port } = await listening();
  await using _ = passive;
  const [client, server] = await Promise.all([
    active(port).connect(),
    passive.connect(),
  ]);
  client.close();
  server.close();
  assert(await isRefused(port));
});
