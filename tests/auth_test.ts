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
  MAX_SECRET_FILE_SIZE,
  type RejectedPeer,
} from "../mod.ts";
import { parseSecretOption, resolveSecret } from "../auth.ts";
import {
  calculateGenerator,
  concat,
  confirmationKey,
  confirmationTag,
  intermediateSessionKey,
  lvCat,
  scalarFromBytes,
  scalarMult,
  scalarMultVerify,
  transcriptIr,
} from "../_cpace.ts";
import {
  fixture,
  isRefused,
  readExactly,
  readToEnd,
  secretListener,
  waitUntil,
  writeAll,
} from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SECRET = "42-apple-cabin-stone-quiet";
const OTHER_SECRET = "42-apple-river-stone-quiet";

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

// The wire format of docs/secret.md, written out step by step from the CPace
// building blocks (themselves checked against the draft's vectors in
// cpace_test.ts), to check interoperability and to play misbehaving peers.
const ROLE = {
  active: encoder.encode("active"),
  passive: encoder.encode("passive"),
};
const CHANNEL = lvCat(
  encoder.encode("@transfer/connect CPace v2"),
  ROLE.active,
  ROLE.passive,
);
/** Bytes of a hello (version, features, nonce), a share and a tag. */
const HELLO = 34;
const SHARE = 32;
const TAG = 64;

function hello(version = 2, features = 0): Uint8Array {
  // A version 1 hello has no feature byte: 33 bytes.
  const frame = new Uint8Array(version === 1 ? 33 : HELLO);
  frame[0] = version;
  if (version !== 1) frame[1] = features;
  crypto.getRandomValues(frame.subarray(version === 1 ? 1 : 2));
  return frame;
}

/** The session id of docs/secret.md: both nonces, then both feature bytes. */
function sessionId(activeHello: Uint8Array, passiveHello: Uint8Array) {
  return concat(
    activeHello.subarray(2, HELLO),
    passiveHello.subarray(2, HELLO),
    Uint8Array.of(activeHello[1], passiveHello[1]),
  );
}

function randomScalar(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  bytes[31] &= 0x0f;
  return scalarFromBytes(bytes) || 1n;
}

/** One side's CPace state for a session id. */
async function share(
  secret: string,
  sid: Uint8Array,
): Promise<{ scalar: bigint; share: Uint8Array }> {
  const generator = await calculateGenerator(
    encoder.encode(secret),
    CHANNEL,
    sid,
  );
  const scalar = randomScalar();
  return { scalar, share: scalarMult(scalar, generator) };
}

/** Both confirmation tags of a session. */
async function tags(
  sid: Uint8Array,
  point: Uint8Array,
  activeShare: Uint8Array,
  passiveShare: Uint8Array,
): Promise<{ active: Uint8Array; passive: Uint8Array; isk: Uint8Array }> {
  const isk = await intermediateSessionKey(
    sid,
    point,
    transcriptIr(activeShare, ROLE.active, passiveShare, ROLE.passive),
  );
  const macKey = await confirmationKey(sid, isk);
  return {
    active: await confirmationTag(macKey, activeShare, ROLE.active),
    passive: await confirmationTag(macKey, passiveShare, ROLE.passive),
    isk,
  };
}

/** Feature bit 1 of docs/secret.md: the side encrypts the stream. */
const ENCRYPT = 0x02;

/**
 * A data record as docs/secret.md describes it, built with WebCrypto here
 * (not with _records.ts): the first record of `direction`.
 */
async function docsRecord(
  isk: Uint8Array,
  sid: Uint8Array,
  direction: "active to passive" | "passive to active",
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(isk),
    "HKDF",
    false,
    ["deriveBits"],
  );
  const info = concat(
    encoder.encode(`@transfer/connect records ${direction}`),
    new Uint8Array(4), // epoch 0
  );
  const raw = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(sid), info },
    base,
    256,
  );
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
    "encrypt",
  ]);
  const header = new Uint8Array(5); // type 0: data
  new DataView(header.buffer).setUint32(1, plaintext.length + 16);
  const iv = new Uint8Array(12); // record number 0
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: header },
    key,
    new Uint8Array(plaintext),
  );
  return concat(header, new Uint8Array(sealed));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** Collects what onRejectedPeer reports. */
function rejections(): {
  seen: RejectedPeer[];
  onRejectedPeer: (peer: RejectedPeer) => void;
} {
  const seen: RejectedPeer[] = [];
  return { seen, onRejectedPeer: (peer) => seen.push(peer) };
}

Deno.test("the exchange reproduces the test vector of docs/secret.md", async () => {
  const docs = await Deno.readTextFile(
    new URL("../docs/secret.md", import.meta.url),
  );
  const bytes = (text: string) =>
    new Uint8Array(text.match(/../g)!.map((pair) => parseInt(pair, 16)));
  const sid = concat(
    new Uint8Array(32).fill(0xaa),
    new Uint8Array(32).fill(0xbb),
    Uint8Array.of(0x01, 0x00), // the active side announces --confirm
  );
  const generator = await calculateGenerator(
    encoder.encode("42-apple-cabin-stone-quiet"),
    CHANNEL,
    sid,
  );
  const ya = scalarFromBytes(
    bytes("da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08"),
  );
  const yb = scalarFromBytes(
    bytes("d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d"),
  );
  const activeShare = scalarMult(ya, generator);
  const passiveShare = scalarMult(yb, generator);
  const point = scalarMultVerify(ya, passiveShare)!;
  assertEquals(point, scalarMultVerify(yb, activeShare));
  const expected = await tags(sid, point, activeShare, passiveShare);
  for (
    const [name, value] of [
      ["CI", CHANNEL],
      ["g", generator.toBytes()],
      ["Ya", activeShare],
      ["Yb", passiveShare],
      ["K", point],
      ["Ta", expected.active],
      ["Tb", expected.passive],
    ] as const
  ) {
    assertMatch(docs, new RegExp(`${name} += ${hex(value)}`), name);
  }
});

Deno.test("Connector with a secret in both modes connects and data flows both ways, first byte intact", async () => {
  const { passive, port } = await secretListener(SECRET);
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

Deno.test("Connector with a one-character secret on both sides connects, and another character is refused", async () => {
  for (const secret of ["x", "é", new Uint8Array([0])]) {
    const seen = rejections();
    const { passive, port } = await secretListener(SECRET, {
      secret,
      onRejectedPeer: seen.onRejectedPeer,
    });
    await using _ = passive;
    const waiting = passive.connect();
    await assertRejects(
      () => active(port, { secret: "y" }).connect(),
      Deno.errors.PermissionDenied,
    );
    const [client, server] = await Promise.all([
      active(port, { secret }).connect(),
      waiting,
    ]);
    await assertDataFlows(client, server);
    client.close();
    server.close();
    assertEquals(seen.seen.length, 1);
  }
});

Deno.test("Connector with a secret leaves application data written right after the exchange to the caller on both sides", async () => {
  const { passive, port } = await secretListener(SECRET);
  await using _ = passive;
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

Deno.test("Connector in passive mode interoperates with a peer written from the docs that sends its share, tag and an encrypted record in one write", async () => {
  const { passive, port } = await secretListener(SECRET);
  await using _ = passive;
  const waiting = passive.connect();
  using peer = await Deno.connect({ hostname: "127.0.0.1", port });
  const own = hello(2, ENCRYPT);
  await writeAll(peer, own);
  const theirs = await readExactly(peer, HELLO + SHARE);
  assertEquals(theirs[0], 2, "version byte");
  const sid = sessionId(own, theirs);
  const mine = await share(SECRET, sid);
  const passiveShare = theirs.subarray(HELLO);
  const point = scalarMultVerify(mine.scalar, passiveShare)!;
  const expected = await tags(sid, point, mine.share, passiveShare);
  const record = await docsRecord(
    expected.isk,
    sid,
    "active to passive",
    encoder.encode("data!"),
  );
  await writeAll(peer, concat(mine.share, expected.active, record));
  assertEquals(
    await readExactly(peer, TAG),
    expected.passive,
    "the passive tag follows the documented format",
  );
  using server = await waiting;
  assertEquals(decoder.decode(await readExactly(server, 5)), "data!");
  assertEquals(passive.rejectedPeers, 0);
});

Deno.test("Connector in active mode interoperates with a listener written from the docs that sends its tag and an encrypted record in one write", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connecting = active(listener.addr.port).connect();
  using peer = await listener.accept();
  const theirs = await readExactly(peer, HELLO);
  assertEquals(theirs[0], 2, "version byte");
  const own = hello(2, ENCRYPT);
  const sid = sessionId(theirs, own);
  const mine = await share(SECRET, sid);
  await writeAll(peer, concat(own, mine.share));
  const answer = await readExactly(peer, SHARE + TAG);
  const activeShare = answer.subarray(0, SHARE);
  const point = scalarMultVerify(mine.scalar, activeShare)!;
  const expected = await tags(sid, point, activeShare, mine.share);
  assertEquals(answer.subarray(SHARE), expected.active, "the active tag");
  const record = await docsRecord(
    expected.isk,
    sid,
    "passive to active",
    encoder.encode("data!"),
  );
  await writeAll(peer, concat(expected.passive, record));
  using client = await connecting;
  assertEquals(decoder.decode(await readExactly(client, 5)), "data!");
});

Deno.test("Connector with a wrong code: the active side rejects with PermissionDenied, the passive side reports it, keeps waiting, and the right peer gets through", async () => {
  const seen = rejections();
  const { passive, port } = await secretListener(SECRET, {
    onRejectedPeer: seen.onRejectedPeer,
  });
  await using _ = passive;
  const waiting = passive.connect();
  const error = await assertRejects(
    () => active(port, { secret: OTHER_SECRET }).connect(),
    Deno.errors.PermissionDenied,
    `the listener at 127.0.0.1:${port} closed the connection instead of confirming the key`,
  );
  for (const secret of [SECRET, OTHER_SECRET]) {
    assertFalse(error.message.includes(secret), "the message reveals a secret");
  }
  // Reported as it happened, before the counterpart arrives.
  assertEquals(seen.seen.length, 1);
  assertMatch(seen.seen[0].address!, /^127\.0\.0\.1:\d+$/);
  assertStringIncludes(seen.seen[0].reason, "does not hold the same code");
  assertInstanceOf(seen.seen[0].error, Deno.errors.PermissionDenied);
  using client = await active(port).connect();
  using server = await waiting;
  assertEquals(passive.rejectedPeers, 1);
  await assertDataFlows(client, server);
});

Deno.test("Connector in passive mode sends no confirmation to a peer whose tag is wrong: one guess, nothing to test offline", async () => {
  const seen = rejections();
  const { passive, port } = await secretListener(SECRET, {
    onRejectedPeer: seen.onRejectedPeer,
  });
  await using _ = passive;
  const waiting = passive.connect();
  // A guesser runs the exchange correctly with a wrong code.
  const guesser = await Deno.connect({ hostname: "127.0.0.1", port });
  const own = hello();
  await writeAll(guesser, own);
  const theirs = await readExactly(guesser, HELLO + SHARE);
  const sid = sessionId(own, theirs);
  const mine = await share(OTHER_SECRET, sid);
  const point = scalarMultVerify(mine.scalar, theirs.subarray(HELLO))!;
  const guessed = await tags(sid, point, mine.share, theirs.subarray(HELLO));
  await writeAll(guesser, concat(mine.share, guessed.active));
  // Nothing more comes: the connection ends without the passive tag.
  assertEquals(await drainToEnd(guesser), 0);
  guesser.close();
  assertEquals(seen.seen.length, 1);
  using client = await active(port).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
});

Deno.test("Connector in active mode refuses a listener holding another secret", async () => {
  const { passive, port } = await secretListener(SECRET, {
    secret: OTHER_SECRET,
  });
  await using _ = passive;
  const waiting = passive.connect();
  await assertRejects(
    () => active(port).connect(),
    Deno.errors.PermissionDenied,
    "it holds another code or secret",
  );
  passive.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);
});

Deno.test("Connector in passive mode reveals nothing to a peer that says nothing, drops it after handshakeTimeout and still accepts the real counterpart", async () => {
  const seen = rejections();
  const { passive, port } = await secretListener(SECRET, {
    handshakeTimeout: 500,
    onRejectedPeer: seen.onRejectedPeer,
  });
  await using _ = passive;
  const waiting = passive.connect();
  using silent = await Deno.connect({ hostname: "127.0.0.1", port });
  assertEquals(await drainToEnd(silent), 0, "not a byte to a silent peer");
  assertEquals(passive.rejectedPeers, 1);
  assertStringIncludes(seen.seen[0].reason, "timed out");
  using client = await active(port).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
  assertEquals(passive.rejectedPeers, 1);
});

Deno.test("Connector in passive mode lets the real counterpart in while a silent peer is still pending", async () => {
  const { passive, port } = await secretListener(SECRET, {
    handshakeTimeout: 60_000,
  });
  await using _ = passive;
  const waiting = passive.connect();
  using silent = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(silent, hello());
  assertEquals((await readExactly(silent, HELLO + SHARE))[0], 2);
  using client = await active(port).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
  // The pending peer was closed when the counterpart won, not counted.
  assertEquals(await drainToEnd(silent), 0);
  assertEquals(passive.rejectedPeers, 0);
});

Deno.test("Connector in passive mode tells a client without the secret, in plain text, what it expects, and still accepts the real counterpart", async () => {
  const seen = rejections();
  const { passive, port } = await secretListener(SECRET, {
    onRejectedPeer: seen.onRejectedPeer,
  });
  await using _ = passive;
  const waiting = passive.connect();
  const http = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(http, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const answer = decoder.decode(await readToEnd(http));
  http.close();
  assertEquals(
    answer,
    "@transfer/connect: this listener expects a code or shared secret (the CPace exchange, version 2); closing\n",
  );
  assertStringIncludes(seen.seen[0].reason, 'it sent "GET / HTTP/1.1');
  using client = await active(port).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
  assertEquals(passive.rejectedPeers, 1);
});

Deno.test("Connector refuses shares that are not valid group elements (the draft's B.3.11 inputs) on both sides", async () => {
  const invalid = [
    // Y_i1: does not decode; Y_i2: the neutral element.
    Uint8Array.from(
      "2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c"
        .match(/../g)!,
      (pair) => parseInt(pair, 16),
    ),
    new Uint8Array(32),
  ];
  for (const bad of invalid) {
    const seen = rejections();
    const { passive, port } = await secretListener(SECRET, {
      onRejectedPeer: seen.onRejectedPeer,
    });
    await using _ = passive;
    const waiting = passive.connect();
    const peer = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(peer, hello());
    await readExactly(peer, HELLO + SHARE);
    await writeAll(peer, concat(bad, new Uint8Array(TAG)));
    assertEquals(await drainToEnd(peer), 0);
    peer.close();
    assertStringIncludes(seen.seen[0].reason, "not a valid ristretto255");
    passive.close();
    await assertRejects(() => waiting, Deno.errors.Interrupted);

    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const connecting = active(listener.addr.port).connect();
    using fake = await listener.accept();
    await readExactly(fake, HELLO);
    await writeAll(fake, concat(hello(), bad));
    await assertRejects(
      () => connecting,
      Deno.errors.InvalidData,
      "not a valid ristretto255 element",
    );
  }
});

Deno.test("Connector in passive mode refuses an exchange replayed from an earlier session and still accepts the real counterpart", async () => {
  // Session 1: a real pair through a relay that records what the active side sends.
  const first = await secretListener(SECRET);
  await using _first = first.passive;
  using relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const recorded: Uint8Array[] = [];
  const relaying = (async () => {
    using fromActive = await relay.accept();
    using toPassive = await Deno.connect({
      hostname: "127.0.0.1",
      port: first.port,
    });
    const steps: [number, number][] = [[HELLO, HELLO + SHARE], [
      SHARE + TAG,
      TAG,
    ]];
    for (const [up, down] of steps) {
      const sent = await readExactly(fromActive, up);
      recorded.push(sent);
      await writeAll(toPassive, sent);
      await writeAll(fromActive, await readExactly(toPassive, down));
    }
  })();
  const [client, server] = await Promise.all([
    active(relay.addr.port).connect(),
    first.passive.connect(),
  ]);
  await relaying;
  client.close();
  server.close();

  // Session 2: the recording is replayed to a listener with the same secret.
  const seen = rejections();
  const { passive, port } = await secretListener(SECRET, {
    onRejectedPeer: seen.onRejectedPeer,
  });
  await using _ = passive;
  const waiting = passive.connect();
  const replay = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(replay, concat(recorded[0], recorded[1]));
  assertEquals(await drainToEnd(replay), HELLO + SHARE, "no tag for a replay");
  replay.close();
  assertEquals(passive.rejectedPeers, 1);
  assertInstanceOf(seen.seen[0].error, Deno.errors.PermissionDenied);
  using realClient = await active(port).connect();
  using realServer = await waiting;
  await assertDataFlows(realClient, realServer);
});

Deno.test("Connector in passive mode refuses a peer that reflects the listener's own hello and share", async () => {
  const seen = rejections();
  const { passive, port } = await secretListener(SECRET, {
    onRejectedPeer: seen.onRejectedPeer,
  });
  await using _ = passive;
  const waiting = passive.connect();
  const peer = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(peer, hello());
  const theirs = await readExactly(peer, HELLO + SHARE);
  await writeAll(peer, concat(theirs.subarray(HELLO), new Uint8Array(TAG)));
  assertEquals(await drainToEnd(peer), 0);
  peer.close();
  assertStringIncludes(seen.seen[0].reason, "sent back this side's own share");
  passive.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);
});

Deno.test("Connector in active mode refuses a listener that echoes its hello, and one that reflects its tag", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const echoing = active(listener.addr.port).connect();
  {
    using peer = await listener.accept();
    const theirs = await readExactly(peer, HELLO);
    await writeAll(peer, theirs);
    await assertRejects(
      () => echoing,
      Deno.errors.InvalidData,
      "sent back this side's own nonce",
    );
  }
  // An insider holding the secret still cannot pass the active side's own
  // tag off as the passive one.
  const reflecting = active(listener.addr.port).connect();
  {
    using peer = await listener.accept();
    const theirs = await readExactly(peer, HELLO);
    const own = hello();
    const sid = sessionId(theirs, own);
    const mine = await share(SECRET, sid);
    await writeAll(peer, concat(own, mine.share));
    const answer = await readExactly(peer, SHARE + TAG);
    await writeAll(peer, answer.subarray(SHARE));
    await assertRejects(
      () => reflecting,
      Deno.errors.PermissionDenied,
      "did not prove it holds the same code or secret",
    );
  }
});

Deno.test("Connector treats a hello with another version byte (0x01) as a stranger, on both sides", async () => {
  const seen = rejections();
  const { passive, port } = await secretListener(SECRET, {
    onRejectedPeer: seen.onRejectedPeer,
  });
  await using _ = passive;
  const waiting = passive.connect();
  // The passive side answers with its plain-text notice, nothing else.
  const old = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(old, hello(1));
  const answer = decoder.decode(await readToEnd(old));
  old.close();
  assertStringIncludes(answer, "this listener expects a code or shared secret");
  assertStringIncludes(
    seen.seen[0].reason,
    "its first byte is 0x01, expected the version byte 0x02",
  );
  passive.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);

  // A listener that sends such a hello at once is named with the byte.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connecting = active(listener.addr.port).connect();
  using peer = await listener.accept();
  await writeAll(peer, hello(1));
  await assertRejects(
    () => connecting,
    Deno.errors.InvalidData,
    `The listener at 127.0.0.1:${listener.addr.port} does not speak the @transfer/connect secret exchange: its first byte is 0x01, expected the version byte 0x02`,
  );
});

Deno.test("Connector in active mode without a timeout bounds the exchange with handshakeTimeout when the listener says nothing", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const connecting = new Connector({
    host: "127.0.0.1",
    port,
    secret: SECRET,
    handshakeTimeout: 300,
  }).connect();
  using peer = await listener.accept();
  await assertRejects(
    () => connecting,
    Deno.errors.TimedOut,
    `Timed out after 300 ms waiting for the handshake with 127.0.0.1:${port}`,
  );
  assertEquals(await drainToEnd(peer), HELLO);
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
  assertEquals(await drainToEnd(peer), HELLO);
});

Deno.test("Connector in active mode rejects with signal.reason when aborted inside the exchange", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const controller = new AbortController();
  const connecting = active(listener.addr.port, { signal: controller.signal })
    .connect();
  using peer = await listener.accept();
  await readExactly(peer, HELLO);
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
  const { passive, port } = await secretListener(SECRET, { tls });
  await using _ = passive;
  const waiting = passive.connect();
  const caCerts = [fixture("ca.pem")];
  await assertRejects(
    () => active(port, { tls: { caCerts }, secret: OTHER_SECRET }).connect(),
    Deno.errors.PermissionDenied,
    "Authentication failed",
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
  const { passive, port } = await secretListener(SECRET, {
    tls,
    handshakeTimeout: 2000,
  });
  await using _ = passive;
  const waiting = passive.connect();
  const caCerts = [fixture("ca.pem")];
  using silent = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts,
  });
  await silent.handshake();
  assertEquals(await drainToEnd(silent), 0);
  assertEquals(passive.rejectedPeers, 1);
  using client = await active(port, { tls: { caCerts } }).connect();
  using server = await waiting;
  await assertDataFlows(client, server);
});

Deno.test("Connector in passive mode with allow and a secret drops a peer outside allow before sending it anything", async () => {
  const { passive, port } = await secretListener(SECRET, {
    allow: ["10.0.0.0/8"],
  });
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

Deno.test("new Connector() accepts any non-empty secret and refuses an empty one with RangeError", () => {
  new Connector({ port: 1, secret: "x" });
  new Connector({ port: 1, secret: new Uint8Array(1) });
  assertThrows(
    () => new Connector({ port: 1, secret: "" }),
    RangeError,
    'Invalid option "secret": the string is empty',
  );
  assertThrows(
    () => new Connector({ port: 1, secret: new Uint8Array(0) }),
    RangeError,
    "the Uint8Array is empty",
  );
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
    const { passive, port } = await secretListener(SECRET, {
      secret: { file },
    });
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
    const other = await secretListener(SECRET);
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

Deno.test("Connector refuses a missing or empty secret file before taking the port", async () => {
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
    const empty = `${directory}/empty.txt`;
    await Deno.writeTextFile(empty, "\n");
    const error = await assertRejects(
      () => active(1, { secret: { file: empty } }).connect(),
      RangeError,
      "is empty",
    );
    assertStringIncludes(error.message, empty);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("Connector reads at most MAX_SECRET_FILE_SIZE bytes of a secret file: /dev/zero and a large file are refused, naming the file", async () => {
  const before = Deno.memoryUsage().rss;
  for (const file of ["/dev/zero", "/dev/urandom"]) {
    const error = await assertRejects(
      () => active(1, { secret: { file } }).connect(),
      RangeError,
      `The secret file "${file}" is larger than ${MAX_SECRET_FILE_SIZE} bytes`,
    );
    assertFalse(error.message.includes("\0"));
  }
  assert(Deno.memoryUsage().rss - before < 64 * 1024 * 1024, "memory bounded");
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeFile(file, new Uint8Array(MAX_SECRET_FILE_SIZE).fill(65));
    assertEquals(
      (await resolveSecret(parseSecretOption({ file })!)).length,
      MAX_SECRET_FILE_SIZE,
    );
    await Deno.writeFile(
      file,
      new Uint8Array(MAX_SECRET_FILE_SIZE + 1).fill(65),
    );
    await assertRejects(
      () => resolveSecret(parseSecretOption({ file })!),
      RangeError,
      file,
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("Connector in active mode counts reading the secret in its timeout (a FIFO nobody writes)", async () => {
  const directory = await Deno.makeTempDir();
  const fifo = `${directory}/fifo`;
  try {
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert(made.success);
    await assertRejects(
      () => active(1, { secret: { file: fifo }, timeout: 300 }).connect(),
      Deno.errors.TimedOut,
      "Timed out after 300 ms",
    );
  } finally {
    // Unblock the pending open so that no operation leaks.
    const writer = await Deno.open(fifo, { write: true });
    writer.close();
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
    const { passive, port } = await secretListener(SECRET, {
      secret: { env: name },
    });
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
        authenticate(client, { role: "active", secret, signal }),
        authenticate(server, { role: "passive", secret, signal }),
      ]);
      await writeAll(client, new Uint8Array([round]));
      assertEquals(await readExactly(server, 1), new Uint8Array([round]));
    }
    await assertRejects(
      () =>
        authenticate(client, {
          role: "active",
          secret: secret.subarray(0, 0),
          signal,
        }),
      RangeError,
      "The secret is empty",
    );
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("Connector in passive mode with a secret frees the port once the counterpart is in", async () => {
  const { passive, port } = await secretListener(SECRET);
  await using _ = passive;
  const [client, server] = await Promise.all([
    active(port).connect(),
    passive.connect(),
  ]);
  client.close();
  server.close();
  assert(await isRefused(port));
});

// --------------------------------------- the feature byte (delivery confirmation) --

for (
  const [activeAnnounces, passiveAnnounces] of [
    [true, true],
    [true, false],
    [false, true],
    [false, false],
  ] as const
) {
  Deno.test(`Connector.peerConfirmsDelivery tells each side what the other announced (active ${activeAnnounces}, passive ${passiveAnnounces})`, async () => {
    const { passive, port } = await secretListener(SECRET, {
      confirmDelivery: passiveAnnounces,
    });
    await using _ = passive;
    const client = active(port, { confirmDelivery: activeAnnounces });
    const [clientConn, serverConn] = await Promise.all([
      client.connect(),
      passive.connect(),
    ]);
    try {
      assertEquals(client.peerConfirmsDelivery, passiveAnnounces);
      assertEquals(passive.peerConfirmsDelivery, activeAnnounces);
      await assertDataFlows(clientConn, serverConn);
    } finally {
      clientConn.close();
      serverConn.close();
    }
  });
}

Deno.test("a relay that flips the active side's feature byte makes the exchange fail on both sides: nobody can strip or add the confirmation", async () => {
  const seen = rejections();
  const { passive, port } = await secretListener(SECRET, {
    confirmDelivery: true,
    onRejectedPeer: seen.onRejectedPeer,
  });
  await using _ = passive;
  const waiting = passive.connect();
  waiting.catch(() => {}); // ended by close() below
  using relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relaying = (async () => {
    using downstream = await relay.accept();
    using upstream = await Deno.connect({ hostname: "127.0.0.1", port });
    // The active side's hello: version, features, nonce. Flip bit 0.
    const hello = await readExactly(downstream, HELLO);
    hello[1] ^= 0x01;
    await writeAll(upstream, hello);
    const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
      const buffer = new Uint8Array(4096);
      try {
        for (let n; (n = await from.read(buffer)) !== null;) {
          await writeAll(to, buffer.subarray(0, n));
        }
      } catch { /* the other direction ended the relay */ }
      try {
        to.closeWrite();
      } catch { /* already closed */ }
    };
    await Promise.all([pipe(upstream, downstream), pipe(downstream, upstream)]);
  })();
  await assertRejects(
    () =>
      active(relay.addr.port, { confirmDelivery: true, timeout: 5_000 })
        .connect(),
    Deno.errors.PermissionDenied,
  );
  await waitUntil(
    () => seen.seen.length === 1,
    5_000,
    "the relayed peer is turned away",
  );
  assertStringIncludes(seen.seen[0].reason, "does not hold the same code");
  passive.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);
  await relaying;
});
