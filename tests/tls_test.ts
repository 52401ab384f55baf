import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Connector, type ConnectorOptions, readTlsFiles } from "../mod.ts";
import {
  fixture,
  fullBacklogListener,
  heldSockets,
  isRefused,
  readExactly,
  waitUntil,
  writeAll,
} from "./_helpers.ts";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;
const ca = fixture("ca.pem");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function server(
  certName: string,
  extra: Partial<ConnectorOptions> = {},
): Connector {
  return new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: {
      cert: fixture(`${certName}.pem`),
      key: fixture(`${certName}.key.pem`),
    },
    ...extra,
  });
}

async function portOf(connector: Connector): Promise<number> {
  return (await connector.listen() as Deno.NetAddr).port;
}

Deno.test("Connector over TLS moves data both ways in both modes", async () => {
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: {
      certFile: `${fixtures}localhost.pem`,
      keyFile: `${fixtures}localhost.key.pem`,
    },
  });
  const port = await portOf(passive);
  const active = new Connector({
    host: "127.0.0.1",
    port,
    timeout: 5000,
    tls: { caCerts: [ca] },
  });
  const [client, peer] = await Promise.all([
    active.connect(),
    passive.connect(),
  ]);
  try {
    await writeAll(client, encoder.encode("over tls"));
    assertEquals(decoder.decode(await readExactly(peer, 8)), "over tls");
    await writeAll(peer, encoder.encode("and back"));
    assertEquals(decoder.decode(await readExactly(client, 8)), "and back");
  } finally {
    client.close();
    peer.close();
  }
});

Deno.test("Connector over TLS fails connect() for an unknown issuer, naming the endpoint", async () => {
  await using passive = server("localhost");
  const port = await portOf(passive);
  const waiting = passive.connect();
  const active = new Connector({
    host: "127.0.0.1",
    port,
    tls: { caCerts: [fixture("other_ca.pem")] },
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.InvalidData,
  );
  assertStringIncludes(error.message, `127.0.0.1:${port}`);
  assertStringIncludes(error.message, "not signed by a trusted CA");
  await waitUntil(
    () => passive.rejectedPeers === 1,
    5000,
    "the failed peer is dropped",
  );
  // The failed handshake did not take the one slot.
  using _client = await new Connector({
    host: "127.0.0.1",
    port,
    tls: { caCerts: [ca] },
  })
    .connect();
  using _peer = await waiting;
});

/** The message parts a rejected server certificate must produce. */
const REJECTED_CERTIFICATES = [
  {
    certificate: "other_name",
    what: "a name mismatch, saying which names",
    says: ['not valid for the name "127.0.0.1"', "other.example"],
  },
  { certificate: "expired", what: "an expired certificate", says: ["expired"] },
];

for (const { certificate, what, says } of REJECTED_CERTIFICATES) {
  Deno.test(`Connector over TLS fails connect() on ${what}`, async () => {
    await using passive = server(certificate);
    const port = await portOf(passive);
    const waiting = passive.connect();
    const active = new Connector({
      host: "127.0.0.1",
      port,
      tls: { caCerts: [ca] },
    });
    const error = await assertRejects(
      () => active.connect(),
      Deno.errors.InvalidData,
    );
    for (const part of [...says, `127.0.0.1:${port}`]) {
      assertStringIncludes(error.message, part);
    }
    passive.close();
    await assertRejects(() => waiting, Deno.errors.Interrupted);
  });
}

Deno.test("Connector over TLS verifies tls.hostname instead of the dialled address", async () => {
  await using passive = server("other_name");
  const port = await portOf(passive);
  const waiting = passive.connect();
  using _client = await new Connector({
    host: "127.0.0.1",
    port,
    tls: { caCerts: [ca], hostname: "other.example" },
  }).connect();
  using _peer = await waiting;
});

Deno.test("Connector over TLS negotiates ALPN and reports a mismatch", async () => {
  await using passive = server("localhost", {});
  const alpnServer = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: {
      cert: fixture("localhost.pem"),
      key: fixture("localhost.key.pem"),
      alpnProtocols: ["x-transfer/1"],
    },
  });
  try {
    const port = await portOf(alpnServer);
    const waiting = alpnServer.connect();
    const client = await new Connector({
      host: "127.0.0.1",
      port,
      tls: { caCerts: [ca], alpnProtocols: ["h2", "x-transfer/1"] },
    }).connect() as Deno.TlsConn;
    using peer = await waiting as Deno.TlsConn;
    assertEquals((await client.handshake()).alpnProtocol, "x-transfer/1");
    assertEquals((await peer.handshake()).alpnProtocol, "x-transfer/1");
    client.close();
  } finally {
    alpnServer.close();
  }

  const mismatch = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: {
      cert: fixture("localhost.pem"),
      key: fixture("localhost.key.pem"),
      alpnProtocols: ["x-transfer/1"],
    },
  });
  try {
    const port = await portOf(mismatch);
    const waiting = mismatch.connect();
    const error = await assertRejects(
      () =>
        new Connector({
          host: "127.0.0.1",
          port,
          tls: { caCerts: [ca], alpnProtocols: ["h2"] },
        })
          .connect(),
      Deno.errors.InvalidData,
    );
    assertStringIncludes(error.message, "ALPN");
    mismatch.close();
    await assertRejects(() => waiting, Deno.errors.Interrupted);
  } finally {
    mismatch.close();
    passive.close();
  }
});

Deno.test("Connector over TLS ignores a plain-TCP intruder and a stalled handshake until the real peer arrives", async () => {
  await using passive = server("localhost", {
    handshakeTimeout: 5000,
    timeout: 10_000,
  });
  const port = await portOf(passive);
  const waiting = passive.connect();
  const plain = await Deno.connect({ hostname: "127.0.0.1", port });
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(plain, encoder.encode("GET / HTTP/1.0\r\n\r\n"));
    // The plain intruder fails its handshake and is closed.
    const buffer = new Uint8Array(4096);
    while (
      (await plain.read(buffer).catch(() => null)) !== null
    ) { /* drain the alert */ }
    assertEquals(passive.rejectedPeers, 1);
    using client = await new Connector({
      host: "127.0.0.1",
      port,
      timeout: 5000,
      tls: { caCerts: [ca] },
    }).connect();
    using peer = await waiting;
    await writeAll(client, encoder.encode("real"));
    assertEquals(decoder.decode(await readExactly(peer, 4)), "real");
    assertEquals(
      (peer.remoteAddr as Deno.NetAddr).port,
      (client.localAddr as Deno.NetAddr).port,
      "the counterpart is the real peer, not the stalled one",
    );
  } finally {
    plain.close();
    stalled.close();
  }
});

Deno.test("Connector over TLS drops a peer whose handshake stalls past handshakeTimeout", async () => {
  await using passive = server("localhost", {
    handshakeTimeout: 200,
    timeout: 10_000,
  });
  const port = await portOf(passive);
  const waiting = passive.connect();
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const started = performance.now();
    await waitUntil(
      () => passive.rejectedPeers === 1,
      5000,
      "the stalled peer is dropped",
    );
    assert(
      performance.now() - started >= 150,
      "dropped only after handshakeTimeout",
    );
  } finally {
    stalled.close();
  }
  using _client = await new Connector({
    host: "127.0.0.1",
    port,
    tls: { caCerts: [ca] },
  })
    .connect();
  using _peer = await waiting;
});

Deno.test("Connector over TLS times out during a handshake the server never answers", async () => {
  using silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = silent.accept();
  const active = new Connector({
    host: "127.0.0.1",
    port: silent.addr.port,
    timeout: 300,
    tls: { caCerts: [ca] },
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.TimedOut,
  );
  assertStringIncludes(error.message, `127.0.0.1:${silent.addr.port}`);
  (await accepting).close();
});

Deno.test("Connector over TLS reports a plain-TCP server as not speaking TLS", async () => {
  using plain = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answering = (async () => {
    using conn = await plain.accept();
    await conn.read(new Uint8Array(4096));
    await writeAll(conn, encoder.encode("HTTP/1.0 400 Bad Request\r\n\r\n"));
  })();
  const active = new Connector({
    host: "127.0.0.1",
    port: plain.addr.port,
    timeout: 5000,
    tls: { caCerts: [ca] },
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.InvalidData,
  );
  assertStringIncludes(error.message, "does not speak TLS");
  await answering;
});

Deno.test("Connector.close() during a pending TLS handshake rejects connect() with Interrupted, passive (its listener closed) and active", async () => {
  const passive = server("localhost");
  const port = await portOf(passive);
  const waiting = passive.connect();
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // Accepted (its socket is ours), so its handshake is pending.
    await waitUntil(() => heldSockets(port) === 1, 5000, "peer accepted");
    passive.close();
    await assertRejects(() => waiting, Deno.errors.Interrupted);
    assert(await isRefused(port), "the listener is closed");
  } finally {
    stalled.close();
  }

  await using backlog = await fullBacklogListener();
  const active = new Connector({
    host: "127.0.0.1",
    port: backlog.port,
    tls: { caCerts: [ca] },
  });
  const connecting = active.connect();
  active.close();
  await assertRejects(() => connecting, Deno.errors.Interrupted);
});

Deno.test("new Connector() validates the tls option for each mode", () => {
  const construct = (options: unknown) => () =>
    new Connector(options as ConnectorOptions);
  assertThrows(
    construct({ mode: "passive", tls: true }),
    TypeError,
    "cert, key",
  );
  assertThrows(
    construct({ mode: "passive", tls: { cert: fixture("localhost.pem") } }),
    TypeError,
    "missing key",
  );
  assertThrows(
    construct({ port: 1, tls: { caCerts: ["not a certificate"] } }),
    TypeError,
    "tls.caCerts[0]",
  );
  assertThrows(
    construct({ port: 1, tls: { insecure: true } }),
    TypeError,
    '"insecure"',
  );
  assertThrows(
    construct({
      mode: "passive",
      tls: { certFile: "a", keyFile: "b", hostname: "x" },
    }),
    TypeError,
    "active connectors only",
  );
  assertThrows(
    construct({ path: "/tmp/a.sock", tls: true }),
    TypeError,
    '"tls"',
  );
  assertEquals(
    new Connector({
      mode: "passive",
      tls: { certFile: "c.pem", keyFile: "k.pem" },
    }).permissions,
    [
      { name: "net", host: "0.0.0.0:0" },
      { name: "read", path: "c.pem" },
      { name: "read", path: "k.pem" },
    ],
  );
});

Deno.test("readTlsFiles() reads PEM files and names a file without a PEM block", async () => {
  const material = await readTlsFiles({
    caFile: `${fixtures}ca.pem`,
    certFile: `${fixtures}localhost.pem`,
    keyFile: `${fixtures}localhost.key.pem`,
  });
  assertEquals(material.caCerts?.length, 1);
  assert(material.cert?.includes("BEGIN CERTIFICATE"));
  assert(material.key?.includes("PRIVATE KEY"));
  const garbage = `${fixtures}garbage.pem`;
  const error = await assertRejects(
    () => readTlsFiles({ caFile: garbage }),
    Deno.errors.InvalidData,
  );
  assertStringIncludes(error.message, garbage);
  await assertRejects(
    () => readTlsFiles({ keyFile: `${fixtures}ca.pem` }),
    Deno.errors.InvalidData,
    "PRIVATE KEY",
  );
  await assertRejects(
    () => readTlsFiles({ certFile: `${fixtures}missing.pem` }),
    Deno.errors.NotFound,
    "missing.pem",
  );
});

Deno.test({
  name:
    "readTlsFiles() without read permission names the exact --allow-read flag",
  permissions: { read: false },
  async fn() {
    const error = await assertRejects(
      () => readTlsFiles({ caFile: "/etc/ssl/ca.pem" }),
      Deno.errors.NotCapable,
    );
    assertStringIncludes(error.message, "--allow-read=/etc/ssl/ca.pem");
  },
});
