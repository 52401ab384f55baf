/**
 * The failure paths of `--confirm` (plain, no secret), over real sockets: a
 * scripted peer that speaks the confirmation frames wrongly, and a man in
 * the middle between two CLIs that rewrites or drops a frame. Every case
 * must end in exit 1 with a message saying what went wrong, never in exit 0.
 *
 * The frames are written here from the wire described in cli/confirm.ts's
 * module doc: a 16-byte request echoed by the listener, then frames of
 * `type (1) | length (4, big-endian) | payload`: DATA = 1, END = 2 (8-byte
 * count), OK = 3 (8-byte count, 32-byte SHA-256), FAILED = 4.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { readExactly, writeAll } from "./_helpers.ts";

const CLI_PATH = new URL("../cli.ts", import.meta.url).pathname;
const IMPORT_MAP = new URL("../offline/import_map.json", import.meta.url)
  .pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const HELLO = encoder.encode("\0transfer-cfm/1\n");
const DATA = 1;
const END = 2;
const OK = 3;
const HEADER = 5;

function frame(type: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(HEADER + payload.length);
  bytes[0] = type;
  new DataView(bytes.buffer).setUint32(1, payload.length);
  bytes.set(payload, HEADER);
  return bytes;
}

function count(value: number, extra = 0): Uint8Array {
  const bytes = new Uint8Array(8 + extra);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
  return bytes;
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
}

/** A CLI process: stdin fed with `input` (then closed), output collected. */
function cli(args: string[], input: Uint8Array): {
  child: Deno.ChildProcess;
  stderrLines: AsyncIterator<string>;
  result: () => Promise<{ code: number; stdout: string; stderr: string }>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--import-map=${IMPORT_MAP}`,
      "-A",
      CLI_PATH,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const fed = writer.write(input).then(() => writer.close()).catch(() => {});
  const stdout = new Response(child.stdout).text();
  // Stderr line by line (the listener's port), all of it kept.
  let stderr = "";
  const stderrLines = child.stderr.pipeThrough(new TextDecoderStream())
    .pipeThrough(
      new TransformStream<string, string>({
        transform(chunk, controller) {
          stderr += chunk;
          controller.enqueue(chunk);
        },
      }),
    ).values();
  return {
    child,
    stderrLines,
    async result() {
      // Drain what is left of stderr, then the exit.
      while (!(await stderrLines.next()).done) {
        // collected by the transform above
      }
      const [status, out] = await Promise.all([child.status, stdout, fed]);
      return { code: status.code, stdout: out, stderr };
    },
  };
}

/** Reads `conn` to its end (or error), dropping the bytes. */
async function drain(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(65536);
  try {
    while (await conn.read(buffer) !== null) {
      // dropped
    }
  } catch {
    // reset by the CLI after its failure
  }
}

/**
 * A scripted listening peer: answers the CLI's --confirm request, sends
 * `frames` (joined), reads whatever the CLI sends, and closes. Returns the
 * CLI's outcome (run as `connect --confirm`, stdin `input`).
 */
async function againstScriptedPeer(frames: Uint8Array[], input = "ping") {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const run = cli(
    ["connect", "127.0.0.1", String(listener.addr.port), "--confirm"],
    encoder.encode(input),
  );
  using conn = await listener.accept();
  assertEquals(await readExactly(conn, HELLO.length), HELLO);
  await writeAll(conn, HELLO);
  const reading = drain(conn);
  for (const bytes of frames) await writeAll(conn, bytes).catch(() => {});
  await conn.closeWrite().catch(() => {});
  const result = await run.result();
  await reading;
  return result;
}

for (
  const [label, frames, expected] of [
    [
      "a frame of an unknown type",
      [frame(9, count(0))],
      "confirmation protocol error: unexpected frame of type 9",
    ],
    [
      "a control frame longer than any control frame",
      [frame(END, new Uint8Array(5000))],
      "confirmation protocol error: frame of type 2 too long (5000)",
    ],
    [
      "an END frame too short for its count",
      [frame(END, new Uint8Array(4))],
      "confirmation protocol error: frame of type 2 too short",
    ],
    [
      "a second END",
      [frame(END, count(0)), frame(END, count(0))],
      "confirmation protocol error: second END",
    ],
    [
      "data after its END",
      [frame(END, count(0)), frame(DATA, encoder.encode("late"))],
      "confirmation protocol error: data after the end-of-data mark",
    ],
  ] as const
) {
  Deno.test(`cli: connect --confirm against a peer that sends ${label}: exit 1, a protocol error`, async () => {
    const result = await againstScriptedPeer([...frames]);
    assertEquals(result.code, 1, result.stderr);
    assertStringIncludes(result.stderr, expected);
    assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  });
}

Deno.test("cli: connect --confirm against a peer whose END counts more bytes than its DATA frames held: exit 1 naming both counts", async () => {
  const result = await againstScriptedPeer([
    frame(DATA, encoder.encode("abc")),
    frame(END, count(5)),
  ]);
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "says it sent 5 bytes, 3 arrived");
});

Deno.test("cli: connect --confirm against a peer that confirms other bytes than were sent: exit 1, the data was altered", async () => {
  const input = encoder.encode("the original bytes");
  const altered = encoder.encode("the altered bytes!");
  const digest = await sha256(altered);
  const answer = count(input.length, 32);
  answer.set(digest, 8);
  const result = await againstScriptedPeer([
    frame(END, count(0)),
    frame(OK, answer),
  ], decoder.decode(input));
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "the data was altered");
});

/**
 * A relay on loopback between a connecting CLI and a listening one that
 * passes the listener's bytes through and hands each frame the connecting
 * side sends (after the 16-byte request) to `rewrite`, which returns what to
 * forward instead (`null`: drop it).
 */
function frameRewritingRelay(
  target: number,
  rewrite: (type: number, payload: Uint8Array) => Uint8Array | null,
): { port: number; done: Promise<void> } & Disposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    using client = await listener.accept();
    listener.close();
    using server = await Deno.connect({ hostname: "127.0.0.1", port: target });
    const upstream = (async () => {
      await writeAll(server, await readExactly(client, HELLO.length));
      while (true) {
        const header = await readExactly(client, HEADER).catch(() => null);
        if (header === null) break;
        const length = new DataView(header.buffer).getUint32(1);
        const payload = await readExactly(client, length);
        const forwarded = rewrite(header[0], payload);
        if (forwarded !== null) {
          await writeAll(server, frame(header[0], forwarded));
        }
      }
      await server.closeWrite();
    })();
    const downstream = (async () => {
      const buffer = new Uint8Array(65536);
      for (let n; (n = await server.read(buffer)) !== null;) {
        await writeAll(client, buffer.subarray(0, n));
      }
      await client.closeWrite();
    })();
    await Promise.allSettled([upstream, downstream]);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    done,
    [Symbol.dispose]() {
      try {
        listener.close();
      } catch {
        // closed once the client came
      }
    },
  };
}

/** Runs `listen --confirm` and `connect --confirm` through a rewriting relay. */
async function throughRelay(
  input: Uint8Array,
  rewrite: (type: number, payload: Uint8Array) => Uint8Array | null,
) {
  const listen = cli(
    ["listen", "0", "--host", "127.0.0.1", "--confirm"],
    new Uint8Array(0),
  );
  let seen = "";
  while (!/listening on .*:\d+\n/.test(seen)) {
    const { value, done } = await listen.stderrLines.next();
    if (done) throw new Error(`listen exited: ${seen}`);
    seen += value;
  }
  const port = Number(/listening on .*:(\d+)\n/.exec(seen)![1]);
  using relay = frameRewritingRelay(port, rewrite);
  const connect = cli(
    ["connect", "127.0.0.1", String(relay.port), "--confirm"],
    input,
  );
  const [sender, receiver] = await Promise.all([
    connect.result(),
    listen.result(),
  ]);
  await relay.done;
  return { sender, receiver };
}

Deno.test("cli: --confirm between two CLIs, a relay flipping one byte of a DATA frame: the sender exits 1, the data was altered", async () => {
  const input = encoder.encode("a file that must arrive intact");
  let flipped = 0;
  const { sender, receiver } = await throughRelay(input, (type, payload) => {
    if (type !== DATA || payload.length === 0 || flipped > 0) return payload;
    flipped++;
    const copy = payload.slice();
    copy[0] ^= 0x20;
    return copy;
  });
  assertEquals(flipped, 1);
  assertEquals(sender.code, 1, sender.stderr);
  assertStringIncludes(sender.stderr, "the data was altered");
  // The receiver cannot tell: it wrote and confirmed what it got.
  assertEquals(receiver.code, 0, receiver.stderr);
  assertEquals(receiver.stdout, "A file that must arrive intact");
});

Deno.test("cli: --confirm between two CLIs, a relay dropping a DATA frame: the receiver exits 1 naming the END count mismatch, the sender exits 1", async () => {
  const input = encoder.encode("first part");
  let dropped = 0;
  const { sender, receiver } = await throughRelay(input, (type, payload) => {
    if (type !== DATA || dropped > 0) return payload;
    dropped++;
    return null;
  });
  assertEquals(dropped, 1);
  assertEquals(receiver.code, 1, receiver.stderr);
  assertStringIncludes(
    receiver.stderr,
    `says it sent ${input.length} bytes, 0 arrived`,
  );
  // Its data never confirmed (the receiver's failure closes the connection).
  assertEquals(sender.code, 1, sender.stderr);
});
