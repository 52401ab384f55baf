/**
 * Two `connect` CLIs with a shared secret, a file sent through an on-path
 * attacker (tests/_mitm.ts) that does not hold the secret: it reads nothing,
 * and whatever it changes, both CLIs exit 1, neither says "confirmed", and
 * the receiver keeps only bytes it verified (a prefix of the file).
 */
import {
  assert,
  assertEquals,
  assertFalse,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { Connector, type RejectedPeer } from "../mod.ts";
import { contains, Mitm, type Tamper } from "./_mitm.ts";
import { flipBit } from "./_mitm.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const IMPORT_MAP = new URL("../offline/import_map.json", import.meta.url)
  .pathname;
const SECRET = "23-harbor-quartz-tundra-willow";
const MARKER = "CLEARTEXT-MARKER Pay 100 EUR ";
const encoder = new TextEncoder();

/** A CLI run: its exit code and stderr. */
interface Ran {
  code: number;
  stderr: string;
}

function spawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--import-map=${IMPORT_MAP}`,
      "-A",
      CLI,
      ...args,
    ],
    env: { TRANSFER_SECRET: SECRET },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** Collects stderr; resolves `port` once the listener prints it. */
function watchStderr(child: Deno.ChildProcess): {
  port: Promise<number>;
  done: Promise<Ran>;
} {
  let found: (port: number) => void = () => {};
  let missed: (error: Error) => void = () => {};
  const port = new Promise<number>((resolve, reject) => {
    found = resolve;
    missed = reject;
  });
  const done = (async () => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      text += decoder.decode(chunk, { stream: true });
      const match = text.match(/listening on .*:(\d+)\n/);
      if (match) found(Number(match[1]));
    }
    missed(new Error(`the listener printed no port: ${text}`));
    return { code: (await child.status).code, stderr: text };
  })();
  port.catch(() => {});
  return { port, done };
}

/** Sends `data` from `connect` to `listen --recv` through the attacker. */
async function transfer(
  data: Uint8Array,
  tamper?: Tamper,
): Promise<
  { sender: Ran; receiver: Ran; received: Uint8Array; mitm: Mitm }
> {
  const dir = await Deno.makeTempDir({ prefix: "mitm_cli_" });
  try {
    await Deno.writeFile(`${dir}/in`, data);
    const listener = spawn([
      "listen",
      "0",
      "--host",
      "127.0.0.1",
      "--recv",
      `${dir}/out`,
      "--secret-env",
      "TRANSFER_SECRET",
      "--timeout",
      "20000",
    ]);
    const receiving = watchStderr(listener);
    const port = await receiving.port;
    const mitm = new Mitm({ port: 0 }, { port }, tamper);
    const sender = spawn([
      "connect",
      "127.0.0.1",
      String((mitm.endpoint as { port: number }).port),
      "--send",
      `${dir}/in`,
      "--secret-env",
      "TRANSFER_SECRET",
      "--timeout",
      "20000",
    ]);
    const sending = watchStderr(sender);
    const [sent, received] = await Promise.all([
      sending.done,
      receiving.done,
    ]);
    await mitm[Symbol.asyncDispose]();
    let output = new Uint8Array(0);
    try {
      output = await Deno.readFile(`${dir}/out`);
    } catch {
      // Nothing kept.
    }
    return { sender: sent, receiver: received, received: output, mitm };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** About 6 MiB with the marker all along: several records each way. */
const DATA = encoder.encode(MARKER.repeat(220_000));

function isPrefix(prefix: Uint8Array, of: Uint8Array): boolean {
  return prefix.length <= of.length &&
    prefix.every((byte, index) => byte === of[index]);
}

Deno.test("cli through an on-path relay: with a secret the wire carries neither the file nor the secret, both exit 0 and confirm", async () => {
  const { sender, receiver, received, mitm } = await transfer(DATA);
  assertEquals(
    [sender.code, receiver.code],
    [0, 0],
    sender.stderr + receiver.stderr,
  );
  assertEquals(received, DATA);
  assertMatch(
    sender.stderr,
    /confirmed: .* wrote the \d+ bytes sent, every record authenticated/,
  );
  const wire = mitm.wire();
  assert(wire.length > DATA.length);
  for (const needle of ["CLEARTEXT", "Pay 100", SECRET, "harbor"]) {
    assertFalse(
      contains(wire, encoder.encode(needle)),
      `${needle} on the wire`,
    );
  }
});

/** Tampers with the sender's records from the third on (after the confirm request). */
function onData(
  act: (index: number, record: Uint8Array) => ReturnType<Tamper>,
): Tamper {
  return (way, index, record) =>
    way === "active to passive" && index >= 2 ? act(index, record) : [record];
}

let held: Uint8Array | undefined;
const ATTACKS: Record<string, Tamper> = {
  "flips one bit": onData((index, record) =>
    index === 2 ? [flipBit(record, 1000)] : [record]
  ),
  "cuts the stream with a FIN": onData((index, record) =>
    index === 3 ? "cut" : [record]
  ),
  "replays a record": onData((index, record) =>
    index === 2 ? [record, record] : [record]
  ),
  "reorders two records": onData((index, record) => {
    if (index === 2) {
      held = record;
      return [];
    }
    return index === 3 ? [record, held!] : [record];
  }),
  "drops a record": onData((index, record) => index === 2 ? [] : [record]),
  "drops the receiver's confirmation": (way, index, record) =>
    way === "passive to active" && index >= 1 && record[0] === 0
      ? []
      : [record],
};

for (const [name, tamper] of Object.entries(ATTACKS)) {
  Deno.test(`cli through an on-path relay that ${name}: both exit 1, nothing confirmed, the receiver keeps only verified bytes`, async () => {
    const { sender, receiver, received } = await transfer(DATA, tamper);
    assertEquals(
      [sender.code, receiver.code],
      [1, 1],
      `sender: ${sender.stderr}\nreceiver: ${receiver.stderr}`,
    );
    for (const side of [sender, receiver]) {
      assertFalse(side.stderr.includes("confirmed:"), side.stderr);
      assertFalse(side.stderr.includes(SECRET), side.stderr);
    }
    if (name !== "drops the receiver's confirmation") {
      assertMatch(receiver.stderr, /was (altered in transit|truncated)/);
    } else {
      assertMatch(sender.stderr, /was (altered in transit|truncated)/);
    }
    assert(
      isPrefix(received, DATA),
      "the receiver kept bytes it did not verify",
    );
  });
}

Deno.test("cli through an on-path relay that drops the sender's end record: the receiver exits 1 (truncated); the sender, whose confirmation did arrive, claims only what is true", async () => {
  const { sender, receiver, received } = await transfer(
    DATA,
    (way, _, record) =>
      way === "active to passive" && record[0] === 1 ? [] : [record],
  );
  assertEquals(receiver.code, 1, receiver.stderr);
  assertMatch(receiver.stderr, /was truncated/);
  assertFalse(receiver.stderr.includes("confirmed:"), receiver.stderr);
  // The end record is the sender's last message: no side can learn that its
  // last message arrived. The sender already holds the receiver's
  // authenticated confirmation (count written and synced), so its exit 0,
  // if it gets that far, is true: the file is complete.
  if (sender.code === 0) {
    assertMatch(sender.stderr, /confirmed: .* wrote the \d+ bytes sent/);
    assertEquals(received, DATA);
  } else {
    assertEquals(sender.code, 1, sender.stderr);
  }
});

Deno.test("cli with a secret against a peer that does not encrypt (encrypt: false, as an older version): both sides fail, the CLI says what to do in its own terms", async () => {
  let report: (peer: RejectedPeer) => void = () => {};
  const rejected = new Promise<RejectedPeer>((resolve) => report = resolve);
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    secret: SECRET,
    encrypt: false,
    timeout: 20_000,
    onRejectedPeer: (peer) => report(peer),
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  waiting.catch(() => {});
  const cli = spawn([
    "connect",
    "127.0.0.1",
    String(port),
    "--secret-env",
    "TRANSFER_SECRET",
  ]);
  const { done } = watchStderr(cli);
  const ran = await done;
  assertEquals(ran.code, 1, ran.stderr);
  assertStringIncludes(ran.stderr, "does not encrypt the stream after it");
  assertStringIncludes(
    ran.stderr,
    "run the same version of connect on both sides",
  );
  assertFalse(ran.stderr.includes(SECRET));
  assertStringIncludes(
    (await rejected).reason,
    "encrypts the stream after it, but this side does not",
  );
});
