/**
 * What a newcomer runs into first: `--recv` onto an existing file, the nc
 * habit `connect HOST PORT`, the units of the progress line, and a listener
 * under a flood of wrong codes that reports them counted, about once a
 * second, instead of one line each.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { Connector } from "../mod.ts";
import { formatBytes, formatRate } from "../cli/events.ts";
import { Cli, listening, runCli, tempDir } from "./_cli.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("cli: --recv onto an existing file exits 2 and leaves it untouched; --force replaces it", async () => {
  await using dir = await tempDir();
  const target = `${dir}/kept.txt`;
  await Deno.writeTextFile(target, "precious");
  const before = await Deno.stat(target);
  const { cli: listener, port } = await listening(
    ["--host", "127.0.0.1", "--timeout", "30"],
    { stdin: "piped" },
  );
  await using _ = listener;
  const refused = await runCli(["127.0.0.1", String(port), "--recv", target]);
  assertEquals(refused.code, 2, refused.stderr);
  assertStringIncludes(refused.stderr, "already exists");
  assertStringIncludes(refused.stderr, "--force");
  assertEquals(await Deno.readTextFile(target), "precious");
  assertEquals((await Deno.stat(target)).mtime, before.mtime);
  // The listener's slot was never taken: --force now gets the data through.
  await using receiver = new Cli([
    "127.0.0.1",
    String(port),
    "--recv",
    target,
    "--force",
  ]);
  await listener.feed(encoder.encode("replacement"));
  const [received, sent] = await Promise.all([
    receiver.result(),
    listener.result(),
  ]);
  assertEquals([received.code, sent.code], [0, 0], received.stderr);
  assertEquals(await Deno.readTextFile(target), "replacement");
});

Deno.test("cli: connect HOST PORT is the short form of connect connect HOST PORT; both carry data", async () => {
  for (const form of [["connect"], []]) {
    const { cli: listener, port } = await listening(["--host", "127.0.0.1"]);
    await using _ = listener;
    await using sender = new Cli([...form, "127.0.0.1", String(port)], {
      stdin: "piped",
    });
    await sender.feed(encoder.encode(`via ${form.length} words`));
    const [received, sent] = await Promise.all([
      listener.result(),
      sender.result(),
    ]);
    assertEquals([received.code, sent.code], [0, 0], sent.stderr);
    assertEquals(decoder.decode(received.stdout), `via ${form.length} words`);
  }
  const typo = await runCli(["lsten"], { permissions: [] });
  assertEquals(typo.code, 2);
  assertStringIncludes(typo.stderr, 'unknown command "lsten"');
});

Deno.test("the progress line's rate is in the units of its counts (MiB with MiB/s)", () => {
  assertEquals(formatBytes(64 * 1024 * 1024), "64.0 MiB");
  assertEquals(formatRate(64 * 1024 * 1024, 1000), "64.0 MiB/s");
  assertEquals(formatRate(1536, 1000), "1.5 KiB/s");
  assertEquals(formatRate(10, 1000), "10.0 B/s");
  assertEquals(formatRate(10, 0), "-");
});

/** Turns a code into another valid one (its last word changed). */
function wrongCodeFor(code: string): string {
  const words = code.split("-");
  words[4] = words[4] === "zone" ? "zoom" : "zone";
  return words.join("-");
}

/** Sends `count` peers with a wrong code at once; each must be refused. */
async function flood(port: number, code: string, count: number) {
  const results = await Promise.allSettled(
    Array.from({ length: count }, async () => {
      await using peer = new Connector({
        host: "127.0.0.1",
        port,
        secret: wrongCodeFor(code),
        timeout: 30_000,
      });
      (await peer.connect()).close();
    }),
  );
  for (const result of results) assertEquals(result.status, "rejected");
}

/** Lets the right code in, so that the listener ends and reports the rest. */
async function finish(listener: Cli, port: number, code: string) {
  await using right = new Connector({
    host: "127.0.0.1",
    port,
    secret: code,
    timeout: 30_000,
  });
  const conn = await right.connect();
  await conn.closeWrite();
  while (await conn.read(new Uint8Array(1024)) !== null) {
    // Until the listener's end.
  }
  conn.close();
  return await listener.result();
}

const PEERS = 120;

Deno.test(`cli: a flood of ${PEERS} wrong codes is reported counted, in far fewer lines than peers (--json)`, async () => {
  const { cli: listener, port } = await listening(
    ["--host", "127.0.0.1", "--code", "--json"],
    { stdin: "null" },
  );
  await using _ = listener;
  const [, code] = await listener.waitForStderr(/"code":"([^"]+)"/);
  await flood(port, code, PEERS);
  const result = await finish(listener, port, code);
  const rejected = result.stderr.split("\n").filter((line) =>
    line.includes('"event":"rejected"')
  ).map((line) => JSON.parse(line));
  let total = 0;
  for (const event of rejected) {
    if (event.count === undefined) {
      assertStringIncludes(event.reason, "does not hold the same code");
      total += 1;
    } else {
      assertEquals(event.reasons, { "wrong code": event.count });
      total += event.count;
    }
  }
  assertEquals(total, PEERS, result.stderr);
  assert(rejected.length * 4 <= PEERS, `${rejected.length} lines`);
});

Deno.test("cli: a flood of wrong codes reads 'turned away N peers in the last second: N wrong code'", async () => {
  const { cli: listener, port } = await listening(
    ["--host", "127.0.0.1", "--code"],
  );
  await using _ = listener;
  const [, code] = await listener.waitForStderr(/\ncode: (\S+)\n/);
  await flood(port, code, 40);
  const result = await finish(listener, port, code);
  const lines = result.stderr.split("\n").filter((line) =>
    line.startsWith("turned away")
  );
  let total = 0;
  for (const line of lines.slice(1)) {
    const match = line.match(
      /^turned away (\d+) peers? in the last second: (\d+) wrong code \(still waiting for the counterpart\)$/,
    );
    assert(match, line);
    assertEquals(match[1], match[2]);
    total += Number(match[1]);
  }
  assertMatch(lines[0], /^turned away 127\.0\.0\.1:\d+: .*same code/);
  assertEquals(total + 1, 40, result.stderr);
});
