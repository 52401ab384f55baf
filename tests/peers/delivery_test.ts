/**
 * Issue 13, "exit 0 means delivered", against peers nobody here wrote (nc,
 * ncat, socat, openssl) and against faults (/dev/full, a missing directory,
 * ulimit -f, SIGKILL, signals). Byte-exact by SHA-256.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertStringIncludes,
} from "@std/assert";
import {
  cli,
  CLI_COMMAND,
  FIXTURES,
  freePort,
  listenPort,
  opensslServerArgs,
  sha256File,
  shell,
  sleep,
  TLS_CONNECT,
  TLS_LISTEN,
  tool,
  waitForPath,
  waitListening,
  workspace,
} from "./_peers.ts";

const MiB = 1024 * 1024;
const SIZE = 4 * MiB;

// --- 1. --recv-only never ends its side first -------------------------------

const SENDERS: [string, (port: number) => [string, string[]], boolean][] = [
  [
    "nc -N -l",
    (port) => ["nc", ["-N", "-l", "127.0.0.1", String(port)]],
    false,
  ],
  ["ncat -l", (port) => ["ncat", ["-l", "127.0.0.1", String(port)]], false],
  [
    "socat TCP-LISTEN",
    (port) => ["socat", ["-u", "STDIN", `TCP-LISTEN:${port},bind=127.0.0.1`]],
    false,
  ],
];

for (const [name, command] of SENDERS) {
  Deno.test(`peers: ${name} sending, connect --recv-only receives every byte and exits 0`, async () => {
    await using space = await workspace(SIZE);
    const port = freePort();
    const [program, args] = command(port);
    await using sender = tool(program, args, space.data);
    await waitListening(port);
    const out = `${space.dir}/out.bin`;
    await using receiver = cli([
      "connect",
      "127.0.0.1",
      String(port),
      "--recv-only",
      "--recv",
      out,
    ]);
    const result = await receiver.finished();
    assertEquals(result.code, 0, result.stderr);
    assertEquals(await sha256File(out), space.sha);
    await sender.finished();
  });
}

Deno.test("peers: ncat -l --ssl sending (no close_notify): exit 1 truncated, but the file holds every byte received (points 1, 2)", async () => {
  await using space = await workspace(SIZE);
  const port = freePort();
  await using sender = tool("ncat", [
    "-l",
    "127.0.0.1",
    String(port),
    "--ssl",
    "--ssl-cert",
    `${FIXTURES}localhost.pem`,
    "--ssl-key",
    `${FIXTURES}localhost.key.pem`,
  ], space.data);
  await waitListening(port);
  const out = `${space.dir}/out.bin`;
  await using receiver = cli([
    "connect",
    "127.0.0.1",
    String(port),
    ...TLS_CONNECT,
    "--recv-only",
    "--recv",
    out,
  ]);
  const result = await receiver.finished();
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "without close_notify");
  assertStringIncludes(result.stderr, "truncated");
  assertEquals(await sha256File(out), space.sha, "every received byte written");
  const count = Number(/after (\d+) bytes/.exec(result.stderr)?.[1]);
  assertEquals(
    count,
    (await Deno.stat(out)).size,
    "the message counts what was written",
  );
  await sender.finished();
});

Deno.test("peers: openssl s_server sending, connect --tls --recv-only gets every byte", async () => {
  await using space = await workspace(SIZE);
  const port = freePort();
  await using _sender = tool("openssl", opensslServerArgs(port), space.data);
  await waitListening(port);
  const out = `${space.dir}/out.bin`;
  await using receiver = cli([
    "connect",
    "127.0.0.1",
    String(port),
    ...TLS_CONNECT,
    "--recv-only",
    "--recv",
    out,
  ]);
  const result = await receiver.finished();
  // s_server does not send close_notify at the end of its stdin either:
  // what matters is that every byte it sent was written.
  assertEquals(await sha256File(out), space.sha, result.stderr);
  assert(
    result.code === 0 || /close_notify/.test(result.stderr),
    result.stderr,
  );
});

const CONNECTING_SENDERS: [string, (port: number) => [string, string[]]][] = [
  ["nc -N", (port) => ["nc", ["-N", "127.0.0.1", String(port)]]],
  [
    "ncat --send-only",
    (port) => ["ncat", ["--send-only", "127.0.0.1", String(port)]],
  ],
  ["socat", (port) => ["socat", ["-u", "STDIN", `TCP:127.0.0.1:${port}`]]],
];

for (const [name, command] of CONNECTING_SENDERS) {
  Deno.test(`peers: a listen --recv-only started from a script (stdin /dev/null) gets every byte from ${name}`, async () => {
    await using space = await workspace(SIZE);
    const out = `${space.dir}/out.bin`;
    await using receiver = cli([
      "listen",
      "--host",
      "127.0.0.1",
      "--recv-only",
      "--recv",
      out,
    ]);
    const port = await listenPort(receiver);
    const [program, args] = command(port);
    await using sender = tool(program, args, space.data);
    const result = await receiver.finished();
    assertEquals(result.code, 0, result.stderr);
    assertEquals(await sha256File(out), space.sha);
    assertEquals((await sender.finished()).code, 0);
  });
}

Deno.test("peers: --no-half-close keeps our side open: ncat -l sends everything to a run whose stdin is empty", async () => {
  await using space = await workspace(SIZE);
  const port = freePort();
  await using sender = tool(
    "ncat",
    ["-l", "127.0.0.1", String(port)],
    space.data,
  );
  await waitListening(port);
  const out = `${space.dir}/out.bin`;
  await using receiver = cli([
    "connect",
    "127.0.0.1",
    String(port),
    "--no-half-close",
    "--recv",
    out,
  ]);
  const result = await receiver.finished();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(await sha256File(out), space.sha);
  await sender.finished();
});

Deno.test("peers: connect --send to nc -d and ncat --recv-only listeners arrives byte-exact", async () => {
  for (
    const [program, args] of [
      ["nc", ["-d", "-l", "127.0.0.1"]],
      ["ncat", ["--recv-only", "-l", "127.0.0.1"]],
    ] as const
  ) {
    await using space = await workspace(SIZE);
    const port = freePort();
    const out = `${space.dir}/out.bin`;
    await using receiver = tool("bash", [
      "-c",
      `exec ${program} ${args.join(" ")} ${port} > ${out}`,
    ]);
    await waitListening(port);
    await using sender = cli([
      "connect",
      "127.0.0.1",
      String(port),
      "--send",
      space.data,
    ]);
    const sent = await sender.finished();
    await receiver.finished();
    assertEquals(sent.code, 0, sent.stderr);
    assertEquals(await sha256File(out), space.sha, program);
  }
});

// --- 3. --confirm --------------------------------------------------------------

for (const transport of ["tcp", "tls", "unix"] as const) {
  for (const direction of ["connect sends", "listen sends"] as const) {
    Deno.test(`peers: --confirm over ${transport}, ${direction}: exit 0 with the matching SHA-256 on both sides`, async () => {
      await using space = await workspace(SIZE);
      const out = `${space.dir}/out.bin`;
      const socket = `${space.dir}/s.sock`;
      const listenEndpoint = transport === "unix"
        ? ["--unix", socket]
        : ["--host", "127.0.0.1", ...(transport === "tls" ? TLS_LISTEN : [])];
      const [listenData, connectData] = direction === "connect sends"
        ? [["--recv", out], ["--send", space.data]]
        : [["--send", space.data], ["--recv", out]];
      await using listener = cli([
        "listen",
        ...listenEndpoint,
        "--confirm",
        "--json",
        ...listenData,
      ]);
      let connectEndpoint: string[];
      if (transport === "unix") {
        await waitForPath(socket);
        connectEndpoint = ["--unix", socket];
      } else {
        const port = await listener.waitForStderr(/"port":(\d+)/);
        connectEndpoint = [
          "127.0.0.1",
          port,
          ...(transport === "tls" ? TLS_CONNECT : []),
        ];
      }
      await using connector = cli([
        "connect",
        ...connectEndpoint,
        "--confirm",
        "--json",
        ...connectData,
      ]);
      const [listened, connected] = await Promise.all([
        listener.finished(),
        connector.finished(),
      ]);
      assertEquals(
        [listened.code, connected.code],
        [0, 0],
        listened.stderr + connected.stderr,
      );
      assertEquals(await sha256File(out), space.sha);
      const senderLog = direction === "connect sends" ? connected : listened;
      const done = JSON.parse(senderLog.stderr.trim().split("\n").at(-1)!);
      assertEquals([done.event, done.confirmed, done.sent], [
        "done",
        true,
        SIZE,
      ]);
      assertEquals(done.sentSha256, space.sha);
    });
  }
}

Deno.test("peers: --confirm text output reports the confirmed digest", async () => {
  await using space = await workspace(MiB);
  await using listener = cli([
    "listen",
    "--host",
    "127.0.0.1",
    "--confirm",
    "--recv",
    `${space.dir}/o`,
  ]);
  const port = await listenPort(listener);
  const sent = await cli([
    "connect",
    "127.0.0.1",
    String(port),
    "--confirm",
    "--send",
    space.data,
  ]).finished();
  assertEquals(sent.code, 0, sent.stderr);
  assertStringIncludes(sent.stderr, `SHA-256 ${space.sha}`);
  assertEquals((await listener.finished()).code, 0);
});

Deno.test("peers: --confirm on the sender only: exit 1 saying both sides need --confirm", async () => {
  await using space = await workspace(MiB);
  await using listener = cli([
    "listen",
    "--host",
    "127.0.0.1",
    "--recv",
    `${space.dir}/o`,
  ]);
  const port = await listenPort(listener);
  const sent = await cli([
    "connect",
    "127.0.0.1",
    String(port),
    "--confirm",
    "--timeout",
    "2",
    "--send",
    space.data,
  ]).finished();
  assertEquals(sent.code, 1, sent.stderr);
  assertStringIncludes(sent.stderr, "both sides need --confirm");
  await listener.finished();
});

Deno.test("peers: a --confirm listener never writes a byte to nc, which did not ask (exit 1, both sides need --confirm)", async () => {
  await using space = await workspace(MiB);
  const out = `${space.dir}/o`;
  await using listener = cli([
    "listen",
    "--host",
    "127.0.0.1",
    "--confirm",
    "--recv",
    out,
  ]);
  const port = await listenPort(listener);
  const nc = await shell(`nc -N 127.0.0.1 ${port} < ${space.data}`);
  const listened = await listener.finished();
  assertEquals(listened.code, 1, listened.stderr);
  assertStringIncludes(listened.stderr, "both sides need --confirm");
  assertEquals(nc.stdout, "", "nothing was injected into nc's stream");
});

Deno.test("peers: --confirm with a receiver writing to /dev/full: the sender exits 1 saying the receiver could not write", async () => {
  await using space = await workspace(SIZE);
  await using listener = cli([
    "listen",
    "--host",
    "127.0.0.1",
    "--confirm",
    "--recv",
    "/dev/full",
  ]);
  const port = await listenPort(listener);
  const sent = await cli([
    "connect",
    "127.0.0.1",
    String(port),
    "--confirm",
    "--send",
    space.data,
  ]).finished();
  const listened = await listener.finished();
  assertEquals(
    [sent.code, listened.code],
    [1, 1],
    sent.stderr + listened.stderr,
  );
  assertStringIncludes(sent.stderr, "could not store what it received");
  assertStringIncludes(sent.stderr, "No space left on device");
});

Deno.test("peers: --confirm with a receiver past ulimit -f: the sender exits 1, told by the receiver", async () => {
  await using space = await workspace(SIZE);
  const out = `${space.dir}/o`;
  await using listener = tool("bash", [
    "-c",
    `trap '' XFSZ; ulimit -f 1024; exec ${
      CLI_COMMAND.join(" ")
    } listen --host 127.0.0.1 --confirm --recv ${out}`,
  ]);
  const port = await listenPort(listener);
  const sent = await cli([
    "connect",
    "127.0.0.1",
    String(port),
    "--confirm",
    "--send",
    space.data,
  ]).finished();
  const listened = await listener.finished();
  assertEquals(
    [sent.code, listened.code],
    [1, 1],
    sent.stderr + listened.stderr,
  );
  assertStringIncludes(sent.stderr, "could not store");
  assertEquals((await Deno.stat(out)).size, MiB);
});

Deno.test("peers: --confirm receiver killed with SIGKILL mid-transfer: the sender exits 1", async () => {
  await using space = await workspace(64 * MiB);
  await using listener = cli([
    "listen",
    "--host",
    "127.0.0.1",
    "--confirm",
    "--recv",
    `${space.dir}/o`,
  ]);
  const port = await listenPort(listener);
  await using sender = cli([
    "connect",
    "127.0.0.1",
    String(port),
    "--confirm",
    "--send",
    space.data,
  ]);
  await waitForPath(`${space.dir}/o`);
  while ((await Deno.stat(`${space.dir}/o`)).size < MiB) await sleep(5);
  listener.kill("SIGKILL");
  const sent = await sender.finished();
  assertEquals(sent.code, 1, sent.stderr);
});

// --- 4. without --confirm: a receiver that cannot write aborts -------------------

for (
  const [label, recv] of [["/dev/full", "/dev/full"], [
    "ulimit -f",
    "ULIMIT",
  ]] as const
) {
  Deno.test(`peers: without --confirm a receiver failing on ${label} resets the connection: the sender exits 1`, async () => {
    await using space = await workspace(SIZE);
    const out = recv === "ULIMIT" ? `${space.dir}/o` : recv;
    await using listener = tool("bash", [
      "-c",
      `trap '' XFSZ; ulimit -f 256; exec ${
        CLI_COMMAND.join(" ")
      } listen --host 127.0.0.1 --recv ${out}`,
    ]);
    const port = await listenPort(listener);
    const sent = await cli([
      "connect",
      "127.0.0.1",
      String(port),
      "--send",
      space.data,
    ]).finished();
    const listened = await listener.finished();
    assertEquals(listened.code, 1, listened.stderr);
    assertStringIncludes(listened.stderr, "Cannot write");
    assertEquals(sent.code, 1, sent.stderr);
  });
}

Deno.test("peers: without --confirm a TLS receiver on /dev/full: the sender exits 1, told about its own direction (point 7)", async () => {
  await using space = await workspace(MiB);
  await using listener = cli([
    "listen",
    "--host",
    "127.0.0.1",
    ...TLS_LISTEN,
    "--recv",
    "/dev/full",
  ]);
  const port = await listenPort(listener);
  const sent = await cli([
    "connect",
    "127.0.0.1",
    String(port),
    ...TLS_CONNECT,
    "--send",
    space.data,
  ]).finished();
  assertEquals(sent.code, 1, sent.stderr);
  // The receiver aborts on its first failed write; the sender, still
  // sending, sees that either on its read side (the TLS stream ends without
  // close_notify, or resets) or on a write that the reset fails first. Both
  // messages are about the bytes it sent, never a truncated reception.
  assert(!sent.stderr.includes("truncated"), sent.stderr);
  assert(!sent.stderr.includes("Receiving from"), sent.stderr);
  assertMatch(
    sent.stderr,
    /after \d+ bytes were sent( to it)?[:,]|^connect: Sending to 127\.0\.0\.1:\d+ failed after \d+ bytes: .*; not every byte was delivered$/m,
  );
  assertEquals((await listener.finished()).code, 1);
});

// --- 5. before the network ------------------------------------------------------

Deno.test("peers: --recv into a missing directory fails before listening, and the sender is never accepted", async () => {
  const result = await cli([
    "listen",
    "--host",
    "127.0.0.1",
    "--recv",
    "/nonexistent-dir/x",
  ]).finished();
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(
    result.stderr,
    'the directory "/nonexistent-dir" does not exist',
  );
  assert(!result.stderr.includes("listening"));
});

// --- 6. signals ------------------------------------------------------------------

for (
  const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], [
    "SIGHUP",
    129,
  ]] as const
) {
  Deno.test(`peers: ${signal} to listen --unix while it waits: exit ${code}, socket file removed, reported`, async () => {
    await using space = await workspace(0);
    const socket = `${space.dir}/s.sock`;
    await using listener = cli(["listen", "--unix", socket, "--json"]);
    await waitForPath(socket);
    listener.kill(signal);
    const result = await listener.finished();
    assertEquals(result.code, code, result.stderr);
    const error = JSON.parse(result.stderr.trim().split("\n").at(-1)!);
    assertEquals([error.event, error.signal, error.exitCode], [
      "error",
      signal,
      code,
    ]);
    await assertRejectsNotFound(socket);
    // The path is free again: a new listener binds it.
    await using again = cli(["listen", "--unix", socket]);
    await waitForPath(socket);
    again.kill("SIGTERM");
    assertEquals((await again.finished()).code, 143);
  });
}

async function assertRejectsNotFound(path: string) {
  try {
    await Deno.lstat(path);
  } catch (error) {
    assert(error instanceof Deno.errors.NotFound);
    return;
  }
  throw new Error(`${path} still exists`);
}

for (const role of ["receiver", "sender"] as const) {
  Deno.test(`peers: SIGTERM to the ${role} mid-transfer: exit 143 and a report of the bytes moved; received bytes all written`, async () => {
    await using space = await workspace(64 * MiB);
    const out = `${space.dir}/o`;
    const port = freePort();
    // The peer pauses after 1 MiB, so the run is mid-transfer when the signal
    // comes.
    await using _peer = role === "receiver"
      ? tool("bash", [
        "-c",
        `{ head -c ${MiB} ${space.data}; sleep 4; } | socat -u STDIN TCP-LISTEN:${port},bind=127.0.0.1`,
      ])
      : tool("bash", [
        "-c",
        `socat -u TCP-LISTEN:${port},bind=127.0.0.1,rcvbuf=65536 STDOUT | (sleep 4; cat) >/dev/null`,
      ]);
    await waitListening(port);
    await using run = role === "receiver"
      ? cli([
        "connect",
        "127.0.0.1",
        String(port),
        "--recv-only",
        "--recv",
        out,
        "--json",
      ])
      : cli([
        "connect",
        "127.0.0.1",
        String(port),
        "--send",
        space.data,
        "--json",
      ]);
    await run.waitForStderr(/"event":"connected"/);
    if (role === "receiver") {
      await waitForPath(out);
      while ((await Deno.stat(out)).size < MiB) await sleep(10);
    }
    run.kill("SIGTERM");
    const result = await run.finished();
    assertEquals(result.code, 143, result.stderr);
    const error = JSON.parse(result.stderr.trim().split("\n").at(-1)!);
    assertEquals([error.signal, error.exitCode], ["SIGTERM", 143]);
    if (role === "receiver") {
      assertEquals(error.received, MiB);
      assertEquals((await Deno.stat(out)).size, MiB);
      const data = await Deno.readFile(space.data);
      const written = await Deno.readFile(out);
      assertEquals(written, data.subarray(0, written.length));
    } else {
      assertNotEquals(error.sent, undefined);
    }
  });
}

Deno.test("peers: a stale unix socket file is replaced with a note; a live one is AddrInUse naming the path", async () => {
  await using space = await workspace(0);
  const socket = `${space.dir}/s.sock`;
  const first = cli(["listen", "--unix", socket]);
  await waitForPath(socket);
  first.kill("SIGKILL"); // leaves the file behind
  await first.finished();
  await Deno.lstat(socket);
  await using second = cli(["listen", "--unix", socket]);
  await second.waitForStderr(/listening on/);
  assertStringIncludes(
    second.stderr,
    `replaced the stale socket file "${socket}"`,
  );
  const third = await cli(["listen", "--unix", socket]).finished();
  assertEquals(third.code, 1, third.stderr);
  assertStringIncludes(
    third.stderr,
    `"${socket}": another process is listening on it`,
  );
  // The live listener was not disturbed by the check: it still takes a peer.
  const peer = await shell(`printf live | nc -N -U ${socket}`);
  assertEquals(peer.code, 0);
  const done = await second.finished();
  assertEquals([done.code, done.stdout], [0, "live"], done.stderr);
});

// --- unix sockets with nc -U ---------------------------------------------------

Deno.test("peers: nc -U sender to listen --unix --recv-only, byte-exact", async () => {
  await using space = await workspace(SIZE);
  const socket = `${space.dir}/s.sock`;
  const out = `${space.dir}/o`;
  await using listener = cli([
    "listen",
    "--unix",
    socket,
    "--recv-only",
    "--recv",
    out,
  ]);
  await waitForPath(socket);
  const nc = await shell(`nc -N -U ${socket} < ${space.data}`);
  assertEquals(nc.code, 0, nc.stderr);
  const result = await listener.finished();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(await sha256File(out), space.sha);
});
