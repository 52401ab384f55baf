import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { Connector, type ConnectorTransport, denoTransport } from "../mod.ts";
import {
  freePort,
  fullBacklogListener,
  hasIPv6,
  isRefused,
  randomBytes,
  readExactly,
  readToEnd,
  writeAll,
} from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The built-in transport (real `Deno.connect`), counting the attempts that
 * fail: `refused` resolves at the first, so a test can start the passive side
 * after it instead of after a sleep.
 */
function refusalCounter(): {
  transport: ConnectorTransport;
  refused: Promise<void>;
  refusals: () => number;
} {
  let refusals = 0;
  const refused = Promise.withResolvers<void>();
  return {
    transport: {
      async connect(address, signal) {
        try {
          return await denoTransport.connect!(address, signal);
        } catch (error) {
          refusals++;
          refused.resolve();
          throw error;
        }
      },
    },
    refused: refused.promise,
    refusals: () => refusals,
  };
}

async function pair(
  passiveOptions: ConstructorParameters<typeof Connector>[0] = {},
): Promise<{ client: Deno.Conn; server: Deno.Conn; passive: Connector }> {
  const passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    ...passiveOptions,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const active = new Connector({ host: "127.0.0.1", port, timeout: 5000 });
  const [client, server] = await Promise.all([
    active.connect(),
    passive.connect(),
  ]);
  return { client, server, passive };
}

Deno.test("Connector.listen() in passive mode with port 0 resolves the real port", async () => {
  await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
  const addr = await passive.listen() as Deno.NetAddr;
  assertEquals(addr.transport, "tcp");
  assertEquals(addr.hostname, "127.0.0.1");
  assert(addr.port > 0, `expected a real port, got ${addr.port}`);
  assertEquals(await passive.listen(), addr, "listen() is idempotent");
  // Something really listens there.
  const probe = await Deno.connect({ hostname: "127.0.0.1", port: addr.port });
  probe.close();
});

Deno.test("Connector.connect() sets up one connection with data flowing both ways", async () => {
  const { client, server, passive } = await pair();
  try {
    const request = randomBytes(256 * 1024);
    const reply = encoder.encode("thanks");
    const [received] = await Promise.all([
      readExactly(server, request.length),
      writeAll(client, request),
    ]);
    assertEquals(received, request);
    await writeAll(server, reply);
    assertEquals(
      decoder.decode(await readExactly(client, reply.length)),
      "thanks",
    );
    assertEquals(passive.rejectedPeers, 0);
  } finally {
    client.close();
    server.close();
    passive.close();
  }
});

Deno.test("Connector.connect() in passive mode closes the listener after the first peer", async () => {
  await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  using client = await new Connector({ host: "127.0.0.1", port }).connect();
  using server = await waiting;
  assertEquals(
    (server.remoteAddr as Deno.NetAddr).port,
    (client.localAddr as Deno.NetAddr).port,
  );
  assert(await isRefused(port), "a second client must be refused by the OS");
});

Deno.test("Connector.connect() in passive mode honours a fixed port", async () => {
  const port = freePort();
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    port,
  });
  assertEquals((await passive.listen() as Deno.NetAddr).port, port);
  const waiting = passive.connect();
  using _client = await new Connector({ host: "127.0.0.1", port }).connect();
  using _server = await waiting;
});

Deno.test("Connector.connect() in passive mode drops a peer outside allow and keeps waiting", async () => {
  if (!hasIPv6()) {
    throw new Error(
      "this test needs IPv6 loopback (::1); the CI machines have it",
    );
  }
  // Dual-stack listener: the outsider comes from 127.0.0.1 (seen as
  // ::ffff:127.0.0.1), the counterpart from ::1, which alone is allowed.
  await using passive = new Connector({
    mode: "passive",
    host: "::",
    allow: ["::1"],
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  const outsider = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    assertEquals(
      await outsider.read(new Uint8Array(1)),
      null,
      "outsider is closed at once",
    );
  } finally {
    outsider.close();
  }
  using client = await new Connector({ host: "::1", port, timeout: 5000 })
    .connect();
  using server = await waiting;
  assertEquals((server.remoteAddr as Deno.NetAddr).hostname, "::1");
  assertEquals((client.remoteAddr as Deno.NetAddr).port, port);
  assertEquals(passive.rejectedPeers, 1);
});

Deno.test("Connector.connect() in passive mode matches IPv4 allow rules against IPv4-mapped peers", async () => {
  await using passive = new Connector({
    mode: "passive",
    host: "::",
    allow: ["127.0.0.0/8"],
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  using _client = await new Connector({
    host: "127.0.0.1",
    port,
    timeout: 5000,
  }).connect();
  using server = await waiting;
  assertStringIncludes(
    (server.remoteAddr as Deno.NetAddr).hostname,
    "127.0.0.1",
  );
  assertEquals(passive.rejectedPeers, 0);
});

Deno.test("Connector.connect() in active mode retries until the passive side starts late", async () => {
  const port = freePort();
  const dialer = refusalCounter();
  const active = new Connector({
    host: "127.0.0.1",
    port,
    timeout: 10_000,
    retry: { attempts: 50, delay: 10, maxDelay: 50 },
    transport: dialer.transport,
  });
  const connecting = active.connect();
  await dialer.refused; // the passive side starts after a refusal
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    port,
  });
  const [client, server] = await Promise.all([connecting, passive.connect()]);
  client.close();
  server.close();
  assert(dialer.refusals() >= 1);
});

Deno.test("Connector.connect() in active mode reports a refusal with the endpoint once retries are exhausted", async () => {
  const port = freePort();
  const active = new Connector({
    host: "127.0.0.1",
    port,
    retry: { attempts: 3, delay: 5 },
  });
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.ConnectionRefused,
  );
  assertStringIncludes(error.message, `127.0.0.1:${port}`);
  assertStringIncludes(error.message, "after 3 attempts");
});

Deno.test("Connector.connect() in active mode times out with TimedOut naming the endpoint and the limit", async () => {
  await using backlog = await fullBacklogListener();
  const active = new Connector({
    host: "127.0.0.1",
    port: backlog.port,
    timeout: 300,
  });
  const started = performance.now();
  const error = await assertRejects(
    () => active.connect(),
    Deno.errors.TimedOut,
  );
  const elapsed = performance.now() - started;
  assertStringIncludes(error.message, `127.0.0.1:${backlog.port}`);
  assertStringIncludes(error.message, "300 ms");
  assert(elapsed >= 290 && elapsed < 5000, `timed out after ${elapsed} ms`);
});

Deno.test("Connector.connect() in active mode rejects with signal.reason on abort", async () => {
  await using backlog = await fullBacklogListener();
  const controller = new AbortController();
  const dialing = Promise.withResolvers<void>();
  const active = new Connector({
    host: "127.0.0.1",
    port: backlog.port,
    signal: controller.signal,
    transport: {
      connect(address, signal) {
        dialing.resolve(); // the real dial, which the full backlog holds
        return denoTransport.connect!(address, signal);
      },
    },
  });
  const reason = new Error("user gave up");
  const connecting = active.connect();
  await dialing.promise;
  controller.abort(reason);
  const error = await assertRejects(() => connecting);
  assertEquals(error, reason);
});

Deno.test("Connector.connect() in active mode rejects at once with an already aborted signal", async () => {
  const active = new Connector({
    host: "127.0.0.1",
    port: freePort(),
    signal: AbortSignal.abort(new RangeError("already aborted")),
  });
  await assertRejects(() => active.connect(), RangeError, "already aborted");
});

Deno.test("Connector.connect() in passive mode times out with TimedOut and frees the port", async () => {
  const passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    timeout: 150,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const error = await assertRejects(
    () => passive.connect(),
    Deno.errors.TimedOut,
  );
  assertStringIncludes(error.message, "150 ms");
  assertStringIncludes(error.message, `127.0.0.1:${port}`);
  assert(await isRefused(port), "the listener is closed after the timeout");
  passive.close();
});

Deno.test("Connector.connect() in passive mode rejects with signal.reason on abort", async () => {
  const controller = new AbortController();
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    signal: controller.signal,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  controller.abort(new Error("stop waiting"));
  await assertRejects(() => waiting, Error, "stop waiting");
  assert(await isRefused(port));
});

Deno.test("Connector.close() while waiting rejects connect() with Interrupted and frees the port at once", async () => {
  const passive = new Connector({ mode: "passive", host: "127.0.0.1" });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  passive.close();
  const error = await assertRejects(() => waiting, Deno.errors.Interrupted);
  assertStringIncludes(error.message, "closed");
  // The port is free again: we can bind it ourselves.
  using _again = Deno.listen({ hostname: "127.0.0.1", port });
  passive.close(); // idempotent
});

Deno.test("Connector.close() is safe in every state", async () => {
  const unused = new Connector({ mode: "passive", host: "127.0.0.1" });
  unused.close();
  unused.close();
  await assertRejects(() => unused.listen(), Deno.errors.Interrupted);
  await assertRejects(() => unused.connect(), Deno.errors.Interrupted);

  const active = new Connector({ host: "127.0.0.1", port: 1 });
  active.close();
  await assertRejects(() => active.connect(), Deno.errors.Interrupted);

  await using backlog = await fullBacklogListener();
  const pending = new Connector({ host: "127.0.0.1", port: backlog.port });
  const connecting = pending.connect();
  pending.close();
  await assertRejects(() => connecting, Deno.errors.Interrupted);
});

Deno.test("Connector.close() leaves a connection already handed to the caller open", async () => {
  const { client, server, passive } = await pair();
  passive.close();
  try {
    await writeAll(client, encoder.encode("still here"));
    assertEquals(decoder.decode(await readExactly(server, 10)), "still here");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("Connector.connect() called twice rejects with Busy and leaves the first intact", async () => {
  await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
  const { port } = await passive.listen() as Deno.NetAddr;
  const first = passive.connect();
  const error = await assertRejects(() => passive.connect(), Deno.errors.Busy);
  assertStringIncludes(error.message, "one connection");
  using client = await new Connector({ host: "127.0.0.1", port }).connect();
  using server = await first;
  await writeAll(client, encoder.encode("first"));
  assertEquals(decoder.decode(await readExactly(server, 5)), "first");

  const active = new Connector({ host: "127.0.0.1", port: freePort() });
  const firstActive = active.connect();
  await assertRejects(() => active.connect(), Deno.errors.Busy);
  await assertRejects(() => firstActive, Deno.errors.ConnectionRefused);
});

Deno.test("Connector.listen() on an active connector rejects with TypeError", async () => {
  const active = new Connector({ host: "127.0.0.1", port: 7000 });
  await assertRejects(() => active.listen(), TypeError, "passive");
});

Deno.test("Connector.listen() on a taken port rejects with AddrInUse naming the endpoint", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    port: taken.addr.port,
  });
  const error = await assertRejects(
    () => passive.listen(),
    Deno.errors.AddrInUse,
  );
  assertStringIncludes(error.message, `127.0.0.1:${taken.addr.port}`);
  passive.close();
});

Deno.test("Connector.connect() in active mode keeps Deno's error class for an unknown name and names it", async () => {
  const active = new Connector({
    host: "no-such-host.invalid",
    port: 7000,
    timeout: 10_000,
  });
  const error = await assertRejects(() => active.connect(), Error);
  assertStringIncludes(error.message, "no-such-host.invalid:7000");
  assert(error.cause instanceof Error, "the original error is kept as cause");
});

Deno.test("Connector over a unix socket connects, moves data and removes the socket file", async () => {
  const directory = await Deno.makeTempDir();
  const path = `${directory}/connector.sock`;
  try {
    await using passive = new Connector({ mode: "passive", path });
    const addr = await passive.listen();
    assertEquals(addr, { transport: "unix", path });
    const waiting = passive.connect();
    using client = await new Connector({ path, timeout: 5000 }).connect();
    using server = await waiting;
    await writeAll(client, encoder.encode("over unix"));
    client.closeWrite();
    assertEquals(decoder.decode(await readToEnd(server)), "over unix");
    await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("Connector over IPv6 loopback connects both ways", async () => {
  if (!hasIPv6()) {
    throw new Error(
      "this test needs IPv6 loopback (::1); the CI machines have it",
    );
  }
  await using passive = new Connector({ mode: "passive", host: "::1" });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  using client = await new Connector({ host: "[::1]", port }).connect();
  using server = await waiting;
  assertEquals((client.remoteAddr as Deno.NetAddr).hostname, "::1");
  await writeAll(server, encoder.encode("v6"));
  assertEquals(decoder.decode(await readExactly(client, 2)), "v6");
});

Deno.test("Connector uses a custom transport for both modes", async () => {
  const calls: string[] = [];
  const transport: ConnectorTransport = {
    connect(address, signal) {
      calls.push(`connect ${address.transport}`);
      if (address.transport !== "tcp") throw new TypeError("tcp only");
      return Deno.connect({
        hostname: address.hostname,
        port: address.port,
        signal,
      });
    },
    listen(address) {
      calls.push(`listen ${address.transport}`);
      if (address.transport !== "tcp") throw new TypeError("tcp only");
      return Deno.listen({ hostname: address.hostname, port: address.port });
    },
    permissions() {
      return [{ name: "net", host: "custom" }];
    },
  };
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    transport,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  using _client = await new Connector({ host: "127.0.0.1", port, transport })
    .connect();
  using _server = await waiting;
  assertEquals(calls, ["listen tcp", "connect tcp"]);
  assertEquals(passive.permissions, [{ name: "net", host: "custom" }]);
});

Deno.test("Connector.permissions names exactly what each configuration needs", () => {
  assertEquals(new Connector({ host: "10.0.0.2", port: 7000 }).permissions, [
    { name: "net", host: "10.0.0.2:7000" },
  ]);
  assertEquals(new Connector({ port: 7000 }).permissions, [
    { name: "net", host: "localhost:7000" },
  ]);
  assertEquals(new Connector({ host: "::1", port: 7000 }).permissions, [
    { name: "net", host: "[::1]:7000" },
  ]);
  assertEquals(new Connector({ mode: "passive" }).permissions, [
    { name: "net", host: "0.0.0.0:0" },
  ]);
  assertEquals(
    new Connector({ mode: "passive", host: "127.0.0.1", port: 8080 })
      .permissions,
    [
      { name: "net", host: "127.0.0.1:8080" },
    ],
  );
  assertEquals(
    new Connector({ mode: "passive", path: "/tmp/x.sock" }).permissions,
    [
      { name: "read", path: "/tmp/x.sock" },
      { name: "write", path: "/tmp/x.sock" },
      { name: "net", host: "unix:/tmp/x.sock" },
    ],
  );
  assertEquals(
    new Connector({ path: "relative.sock" }).permissions[2],
    { name: "net", host: `unix:${Deno.cwd()}/relative.sock` },
  );
});

Deno.test("Connector.connect() over a unix socket retries until the socket file appears", async () => {
  const directory = await Deno.makeTempDir();
  const path = `${directory}/late.sock`;
  try {
    const dialer = refusalCounter();
    const connecting = new Connector({
      path,
      timeout: 10_000,
      retry: { attempts: 100, delay: 10, maxDelay: 50 },
      transport: dialer.transport,
    }).connect();
    await dialer.refused; // the socket file appears after a failed attempt
    await using passive = new Connector({ mode: "passive", path });
    const [client, server] = await Promise.all([connecting, passive.connect()]);
    client.close();
    server.close();
    assert(dialer.refusals() >= 1);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("Connector.options never shows the secret's bytes", () => {
  const connector = new Connector({
    mode: "passive",
    secret: "0123456789abcdef0123456789abcdef",
  });
  assertEquals(connector.options.secret, "[redacted]");
  assertEquals(
    new Connector({ mode: "passive", secret: { env: "TRANSFER_SECRET" } })
      .options
      .secret,
    { env: "TRANSFER_SECRET" },
  );
});
