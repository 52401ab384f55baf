/**
 * Issue 20, "reach anyone": both sides meet through the real
 * magic-wormhole transit relay (Debian's magic-wormhole-transit-relay, run
 * with Debian's own python3 on loopback). Byte-exact by SHA-256, exit codes
 * checked; a tap between one side and the relay sees neither the plaintext
 * nor the code.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { Connector, relayToken } from "../../mod.ts";
import { concat, writeAll } from "../_helpers.ts";
import { contains } from "../_mitm.ts";
import {
  cli,
  CLI_PATH,
  freePort,
  IMPORT_MAP,
  type Running,
  sha256,
  sha256File,
  tool,
  waitListening,
  workspace,
} from "./_peers.ts";

const MiB = 1024 * 1024;
const SIZE = 4 * MiB;
/** Debian's python3, which has Twisted (one earlier on PATH may not). */
const PYTHON = "/usr/bin/python3";

/** The real transit relay on a free loopback port; stopped on dispose. */
async function startRelay(): Promise<{ port: number } & AsyncDisposable> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "connect_relay_" });
  const child = new Deno.Command(PYTHON, {
    args: [
      "-m",
      "twisted",
      "transitrelay",
      `--port=tcp:${port}:interface=127.0.0.1`,
    ],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitListening(port);
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  }
  return {
    port,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The code `listen --relay --code` prints. */
async function codeOf(listener: Running): Promise<string> {
  return await listener.waitForStderr(/code: (\d{4}(?:-[a-z]+){4})\n/);
}

/** The CLI with stdout into `output` (bytes, not text) and stdin from `input`. */
function cliToFile(args: string[], input: string, output: string): Running {
  const line = [
    Deno.execPath(),
    "run",
    "--no-prompt",
    `--import-map=${IMPORT_MAP}`,
    "-A",
    CLI_PATH,
    ...args,
  ].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(" ");
  return tool("bash", ["-c", `${line} >'${output}'`], input);
}

Deno.test("relay (real): the Connector meets through the relay, both directions end with their end record and arrive whole", async () => {
  await using relay = await startRelay();
  const options = {
    relay: { host: "127.0.0.1", port: relay.port, channel: "4711" },
    secret: "a passphrase both sides know",
    timeout: 20_000,
  };
  await using passive = new Connector({ mode: "passive", ...options });
  const addr = await passive.listen() as Deno.NetAddr;
  assertEquals([addr.hostname, addr.port], ["127.0.0.1", relay.port]);
  const [client, server] = await Promise.all([
    new Connector(options).connect(),
    passive.connect(),
  ]);
  for (const conn of [client, server]) {
    const remote = conn.remoteAddr as Deno.NetAddr;
    assertEquals([remote.hostname, remote.port], ["127.0.0.1", relay.port]);
  }
  const upstream = crypto.getRandomValues(new Uint8Array(65536));
  const downstream = crypto.getRandomValues(new Uint8Array(65536));
  const sendAndEnd = async (conn: Deno.Conn, bytes: Uint8Array) => {
    await writeAll(conn, bytes);
    await conn.closeWrite();
  };
  const readAll = async (conn: Deno.Conn) => {
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(16384);
    for (let count; (count = await conn.read(buffer)) !== null;) {
      chunks.push(buffer.slice(0, count));
    }
    const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    let offset = 0;
    for (const chunk of chunks) {
      all.set(chunk, (offset += chunk.length) - chunk.length);
    }
    return all;
  };
  // Each side ends its direction first and only then reads the other's:
  // a half-close through the relay would cut the other direction.
  const [, , gotUp, gotDown] = await Promise.all([
    sendAndEnd(client, upstream),
    sendAndEnd(server, downstream),
    readAll(server),
    readAll(client),
  ]);
  client.close();
  server.close();
  assertEquals(await sha256(gotUp), await sha256(upstream));
  assertEquals(await sha256(gotDown), await sha256(downstream));
});

Deno.test("relay (real): a file from the connector to the listener, byte-exact, both exit 0", async () => {
  await using relay = await startRelay();
  await using space = await workspace(SIZE);
  const out = `${space.dir}/out.bin`;
  const where = `127.0.0.1:${relay.port}`;
  await using listener = cli([
    "listen",
    "--relay",
    where,
    "--code",
    "--recv",
    out,
  ]);
  const code = await codeOf(listener);
  assertStringIncludes(
    listener.stderr,
    `listening on channel ${code.split("-")[0]} through the relay at ${where}`,
  );
  // The counterpart's command asks only for the relay and holds no code.
  assertStringIncludes(
    listener.stderr,
    `--allow-net=${where} --import-map=`,
  );
  assertStringIncludes(
    listener.stderr,
    `${CLI_PATH} connect --relay ${where} --code\n`,
  );
  await using connector = cli([
    "connect",
    "--relay",
    where,
    "--code",
    code,
    "--send",
    space.data,
  ]);
  const sent = await connector.finished();
  const received = await listener.finished();
  assertEquals(sent.code, 0, sent.stderr);
  assertEquals(received.code, 0, received.stderr);
  assertEquals(await sha256File(out), space.sha);
});

Deno.test("relay (real): a file from the listener to the connector, byte-exact, both exit 0", async () => {
  await using relay = await startRelay();
  await using space = await workspace(SIZE);
  const out = `${space.dir}/out.bin`;
  const where = `127.0.0.1:${relay.port}`;
  await using listener = cli([
    "listen",
    "--relay",
    where,
    "--code",
    "--send",
    space.data,
  ]);
  const code = await codeOf(listener);
  await using connector = cli([
    "connect",
    "--relay",
    where,
    "--code",
    code,
    "--recv",
    out,
  ]);
  const received = await connector.finished();
  const sent = await listener.finished();
  assertEquals(received.code, 0, received.stderr);
  assertEquals(sent.code, 0, sent.stderr);
  assertEquals(await sha256File(out), space.sha);
});

Deno.test("relay (real): both directions at once over stdin/stdout, byte-exact, both exit 0", async () => {
  await using relay = await startRelay();
  await using up = await workspace(SIZE);
  await using down = await workspace(SIZE / 2);
  const where = `127.0.0.1:${relay.port}`;
  const listenerOut = `${up.dir}/listener_out.bin`;
  const connectorOut = `${down.dir}/connector_out.bin`;
  await using listener = cliToFile(
    ["listen", "--relay", where, "--code"],
    down.data,
    listenerOut,
  );
  const code = await codeOf(listener);
  await using connector = cliToFile(
    ["connect", "--relay", where, "--code", code],
    up.data,
    connectorOut,
  );
  const [a, b] = await Promise.all([connector.finished(), listener.finished()]);
  assertEquals(a.code, 0, a.stderr);
  assertEquals(b.code, 0, b.stderr);
  assertEquals(await sha256File(listenerOut), up.sha);
  assertEquals(await sha256File(connectorOut), down.sha);
});

Deno.test("relay (real): a wrong code first is turned away and the listener keeps waiting; the right one then gets the file", async () => {
  await using relay = await startRelay();
  await using space = await workspace(SIZE);
  const out = `${space.dir}/out.bin`;
  const where = `127.0.0.1:${relay.port}`;
  await using listener = cli([
    "listen",
    "--relay",
    where,
    "--code",
    "--recv",
    out,
  ]);
  const code = await codeOf(listener);
  const [channel, ...words] = code.split("-");
  const wrong = [
    channel,
    ...words.slice(0, 3),
    words[3] === "apple" ? "river" : "apple",
  ]
    .join("-");
  await using intruder = cli([
    "connect",
    "--relay",
    where,
    "--code",
    wrong,
    "--send",
    space.data,
  ]);
  const refused = await intruder.finished();
  assertEquals(refused.code, 1, refused.stderr);
  assertStringIncludes(
    refused.stderr,
    "a wrong code, or another pair used this channel",
  );
  await listener.waitForStderr(/turned away a peer through the relay at/);
  await using connector = cli([
    "connect",
    "--relay",
    where,
    "--code",
    code,
    "--send",
    space.data,
  ]);
  const sent = await connector.finished();
  const received = await listener.finished();
  assertEquals(sent.code, 0, sent.stderr);
  assertEquals(received.code, 0, received.stderr);
  assertEquals(await sha256File(out), space.sha);
});

/**
 * A TCP forwarder between the connector and the relay that records every
 * byte both ways.
 */
function tap(relayPort: number): {
  port: number;
  seen(): Uint8Array;
  done(): Promise<void>;
} & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const recorded: Uint8Array[] = [];
  const pumps: Promise<void>[] = [];
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(65536);
    try {
      for (let count; (count = await from.read(buffer)) !== null;) {
        recorded.push(buffer.slice(0, count));
        for (let offset = 0; offset < count;) {
          offset += await to.write(buffer.subarray(offset, count));
        }
      }
    } catch { /* one side went away */ }
    try {
      to.close();
    } catch { /* closed */ }
    try {
      from.close();
    } catch { /* closed */ }
  };
  const loop = (async () => {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch {
        return;
      }
      const upstream = await Deno.connect({
        hostname: "127.0.0.1",
        port: relayPort,
      });
      pumps.push(pump(client, upstream), pump(upstream, client));
    }
  })();
  const done = async () => {
    try {
      listener.close();
    } catch { /* closed */ }
    await loop;
    await Promise.all(pumps);
  };
  return {
    port: listener.addr.port,
    seen: () => concat(recorded),
    done,
    [Symbol.asyncDispose]: done,
  };
}

Deno.test("relay (real): a tap between the connector and the relay sees neither the plaintext nor the code", async () => {
  await using relay = await startRelay();
  await using wire = tap(relay.port);
  await using space = await workspace(SIZE);
  const out = `${space.dir}/out.bin`;
  await using listener = cli([
    "listen",
    "--relay",
    `127.0.0.1:${relay.port}`,
    "--code",
    "--recv",
    out,
  ]);
  const code = await codeOf(listener);
  await using connector = cli([
    "connect",
    "--relay",
    `127.0.0.1:${wire.port}`,
    "--code",
    code,
    "--send",
    space.data,
  ]);
  const sent = await connector.finished();
  const received = await listener.finished();
  assertEquals(sent.code, 0, sent.stderr);
  assertEquals(received.code, 0, received.stderr);
  assertEquals(await sha256File(out), space.sha);
  await wire.done();
  const seen = wire.seen();
  assert(seen.length > SIZE, "the whole transfer went through the tap");
  const encoder = new TextEncoder();
  // The registration names the channel's token only.
  const line = new TextDecoder().decode(seen.subarray(0, 104));
  assertMatch(
    line,
    new RegExp(
      `^please relay ${await relayToken(
        code.split("-")[0],
      )} for side [0-9a-f]{16}\n`,
    ),
  );
  assert(!contains(seen, encoder.encode(code)), "the code is not on the wire");
  assert(
    !contains(seen, encoder.encode(code.split("-").slice(1).join("-"))),
    "nor its words",
  );
  const plaintext = await Deno.readFile(space.data);
  for (
    let offset = 0;
    offset < plaintext.length;
    offset += plaintext.length / 16
  ) {
    assert(
      !contains(seen, plaintext.subarray(offset, offset + 32)),
      `plaintext at ${offset} is on the wire`,
    );
  }
});

Deno.test("relay (real): a connector run with only --allow-net=RELAY and its file flag delivers byte-exact, exit 0", async () => {
  await using relay = await startRelay();
  await using space = await workspace(SIZE);
  const out = `${space.dir}/out.bin`;
  const where = `127.0.0.1:${relay.port}`;
  await using listener = cli([
    "listen",
    "--relay",
    where,
    "--code",
    "--recv",
    out,
  ]);
  const code = await codeOf(listener);
  await using connector = tool(Deno.execPath(), [
    "run",
    "--no-prompt",
    `--import-map=${IMPORT_MAP}`,
    `--allow-net=${where}`,
    `--allow-read=${space.data}`,
    CLI_PATH,
    "connect",
    "--relay",
    where,
    "--code",
    code,
    "--send",
    space.data,
  ]);
  const sent = await connector.finished();
  const received = await listener.finished();
  assertEquals(sent.code, 0, sent.stderr);
  assertEquals(received.code, 0, received.stderr);
  assertEquals(await sha256File(out), space.sha);
});

Deno.test("relay (real): two pairs on one channel each end with their own counterpart; a meeting with the other pair fails as a collision, never connects", async () => {
  await using relay = await startRelay();
  const channel = "1234";
  const options = (secret: string) => ({
    relay: { host: "127.0.0.1", port: relay.port, channel },
    secret,
    timeout: 10_000,
  });
  const rejected: string[] = [];
  const passives = ["first pair's passphrase", "second pair's passphrase"].map(
    (secret) =>
      new Connector({
        mode: "passive",
        ...options(secret),
        timeout: 60_000,
        onRejectedPeer: (peer) => rejected.push(peer.reason),
      }),
  );
  try {
    const waiting = passives.map((passive) => passive.connect());
    // On a failure below, close() in finally rejects these: that must not
    // hide the failure as an uncaught rejection.
    for (const wait of waiting) wait.catch(() => {});
    const collisions: string[] = [];
    const meet = async (secret: string) => {
      // Each attempt meets whichever listener waits at the relay alone; the
      // wrong one turns it away. Two listeners waiting at once meet each
      // other, close, and pause 200–1,000 ms before registering again, so a
      // burst of quick attempts can all meet the one that paused least:
      // attempts go on (each an immediate retry) for up to 20 s.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        try {
          return await new Connector(options(secret)).connect();
        } catch (error) {
          const message = (error as Error).message;
          if (!message.includes("another pair used this channel")) throw error;
          collisions.push(message);
        }
      }
      throw new Error(
        `never met the right listener in 20 s: ${collisions.at(-1)}`,
      );
    };
    const first = await meet("first pair's passphrase");
    // The first listener is done (and gone from the relay) before the second
    // pair starts: until then it could still be vetting a second-pair
    // connector that it closes the moment its own counterpart wins.
    const server1 = await waiting[0];
    const second = await meet("second pair's passphrase");
    const server2 = await waiting[1];
    const encoder = new TextEncoder();
    await first.write(encoder.encode("one"));
    await second.write(encoder.encode("two"));
    const buffer = new Uint8Array(3);
    for (
      const [server, expected] of [[server1, "one"], [server2, "two"]] as const
    ) {
      let got = "";
      while (got.length < 3) {
        const count = await server.read(buffer);
        assert(count !== null);
        got += new TextDecoder().decode(buffer.subarray(0, count));
      }
      assertEquals(got, expected, "each listener got its own counterpart");
    }
    for (const conn of [first, second, server1, server2]) conn.close();
    assertEquals(
      rejected.length,
      collisions.length,
      "every collision was turned away by a listener; the listeners never took each other",
    );
    for (const message of collisions) {
      assertStringIncludes(
        message,
        `met on channel ${channel} through the relay at 127.0.0.1:${relay.port}`,
      );
    }
  } finally {
    for (const passive of passives) passive.close();
  }
});

Deno.test("relay (real): --json on both sides: listening and code name the relay, done confirms the bytes, exit 0", async () => {
  await using relay = await startRelay();
  await using space = await workspace(MiB);
  const out = `${space.dir}/out.bin`;
  const where = `127.0.0.1:${relay.port}`;
  await using listener = cli([
    "listen",
    "--relay",
    where,
    "--code",
    "--recv",
    out,
    "--json",
  ]);
  const code = await listener.waitForStderr(/"code":"(\d{4}(?:-[a-z]+){4})"/);
  await using connector = cli([
    "connect",
    "--relay",
    where,
    "--code",
    code,
    "--send",
    space.data,
    "--json",
  ]);
  const sent = await connector.finished();
  const received = await listener.finished();
  assertEquals(sent.code, 0, sent.stderr);
  assertEquals(received.code, 0, received.stderr);
  const events = (text: string) =>
    text.trim().split("\n").map((line) => JSON.parse(line));
  const listenerEvents = events(received.stderr);
  assertEquals(listenerEvents[0], {
    event: "listening",
    address: `channel ${code.split("-")[0]} through the relay at ${where}`,
  });
  assertEquals(listenerEvents[1].event, "code");
  assert(
    listenerEvents[1].command.endsWith(`connect --relay ${where} --code`),
    listenerEvents[1].command,
  );
  const done = events(sent.stderr).find((event) => event.event === "done");
  assertEquals(done?.confirmed, true);
  assertEquals(done?.sent, MiB);
  assertEquals(await sha256File(out), space.sha);
});
