/**
 * The encrypted stream against an on-path attacker (tests/_mitm.ts): a relay
 * over real sockets between two Connectors that hold the code, the relay
 * does not. It must read nothing, and every change it makes must fail on both
 * sides with `Deno.errors.InvalidData`.
 */
import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertStringIncludes,
} from "@std/assert";
import { Connector, EncryptedConn } from "../mod.ts";
import { readToEnd, writeAll } from "./_helpers.ts";
import {
  contains,
  type Endpoint,
  flipBit,
  Mitm,
  type Tamper,
  type Way,
} from "./_mitm.ts";

const encoder = new TextEncoder();
const SECRET = "17-marble-orbit-velvet-canyon";
const MARKER = "PLAINTEXT-MARKER Pay 100 EUR";

/**
 * The active side's request, with the marker all along, in one write: four
 * data records (1 MiB, 1 MiB, 1 MiB, the rest), then the end record.
 */
const REQUEST = encoder.encode(
  `${MARKER} `.repeat(
    Math.ceil((3 * 1024 * 1024 + 5000) / (MARKER.length + 1)),
  ),
);
const REPLY = encoder.encode(`${MARKER} reply `.repeat(50));

type Outcome = { ok: Uint8Array } | { error: unknown };

async function settle(task: Promise<Uint8Array>): Promise<Outcome> {
  try {
    return { ok: await task };
  } catch (error) {
    return { error };
  }
}

/**
 * Runs one session through the relay: the active side writes REQUEST (one
 * record per write) and its end, then reads the reply to the end; the
 * passive side reads to the end, then writes REPLY and its end. A side that
 * fails closes its connection (as any program does on an error).
 */
async function session(
  kind: "tcp" | "unix",
  tamper?: Tamper,
  encrypt = true,
): Promise<{ active: Outcome; passive: Outcome; mitm: Mitm }> {
  const dir = kind === "unix" ? await Deno.makeTempDir() : undefined;
  const target: Endpoint = dir ? { path: `${dir}/passive.sock` } : { port: 0 };
  const passive = new Connector({
    mode: "passive",
    ...("path" in target ? { path: target.path } : { host: "127.0.0.1" }),
    timeout: 10_000,
    secret: SECRET,
    encrypt,
  });
  try {
    const bound = await passive.listen();
    const real: Endpoint = "path" in target
      ? target
      : { port: (bound as Deno.NetAddr).port };
    const mitm = new Mitm(
      dir ? { path: `${dir}/mitm.sock` } : { port: 0 },
      real,
      tamper,
      encrypt, // a plain stream has no records to cut
    );
    const active = new Connector({
      ...("path" in mitm.endpoint
        ? { path: mitm.endpoint.path }
        : { host: "127.0.0.1", port: mitm.endpoint.port }),
      timeout: 10_000,
      secret: SECRET,
      encrypt,
    });
    const [a, p] = await Promise.all([
      settle((async () => {
        const conn = await active.connect();
        try {
          assert((conn instanceof EncryptedConn) === encrypt);
          await writeAll(conn, REQUEST);
          await conn.closeWrite();
          return await readToEnd(conn);
        } finally {
          conn.close();
        }
      })()),
      settle((async () => {
        const conn = await passive.connect();
        try {
          const received = await readToEnd(conn);
          await writeAll(conn, REPLY);
          await conn.closeWrite();
          return received;
        } finally {
          conn.close();
        }
      })()),
    ]);
    await mitm[Symbol.asyncDispose]();
    return { active: a, passive: p, mitm };
  } finally {
    passive.close();
    if (dir) await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Both sides failed. The receiver of the tampered direction with
 * InvalidData saying `passiveSays`. The sender with InvalidData saying
 * `activeSays` when it got as far as reading the reply (the receiver's
 * connection ended without its end record), or, when the receiver's close
 * came while it was still writing, with the reset of its write
 * (ConnectionReset or BrokenPipe): never with success.
 */
function assertBothFail(
  outcome: { active: Outcome; passive: Outcome },
  passiveSays: string,
  activeSays: string,
): void {
  for (
    const [side, result, says] of [
      ["passive", outcome.passive, passiveSays],
      ["active", outcome.active, activeSays],
    ] as const
  ) {
    assert("error" in result, `the ${side} side claimed success`);
    const error = result.error as Error;
    assertFalse(error.message.includes(SECRET));
    if (
      side === "active" &&
      (error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.BrokenPipe)
    ) continue;
    assertInstanceOf(error, Deno.errors.InvalidData, `${side} side`);
    assertStringIncludes(error.message, says);
  }
}

const request = REQUEST;

for (const kind of ["tcp", "unix"] as const) {
  Deno.test(`On-path relay over ${kind}: the wire carries neither the plaintext nor the code, and both sides get their bytes exactly`, async () => {
    const { active, passive, mitm } = await session(kind);
    assertEquals("ok" in passive && passive.ok, request);
    assertEquals("ok" in active && active.ok, REPLY);
    // The records the attacks below count on: four data records, the end.
    assertEquals(
      mitm.seen["active to passive"].slice(-5).map((record) => [
        record[0],
        record.length,
      ]),
      [
        [0, 5 + 1048576 + 16],
        [0, 5 + 1048576 + 16],
        [0, 5 + 1048576 + 16],
        [0, 5 + REQUEST.length - 3 * 1048576 + 16],
        [1, 5 + 16],
      ],
    );
    const wire = mitm.wire();
    assert(wire.length > request.length + REPLY.length, "the relay saw it all");
    for (const needle of [MARKER, "PLAINTEXT", "Pay 100", SECRET, "marble"]) {
      assertFalse(
        contains(wire, encoder.encode(needle)),
        `${needle} on the wire`,
      );
    }
  });
}

/** Tampers with records of one way only. */
function on(
  way: Way,
  act: (index: number, record: Uint8Array) => ReturnType<Tamper>,
): Tamper {
  return (direction, index, record) =>
    direction === way ? act(index, record) : [record];
}

Deno.test("On-path relay flips one bit of a record: both sides fail, the receiver with 'altered in transit', nothing claims success", async () => {
  for (const kind of ["tcp", "unix"] as const) {
    const outcome = await session(
      kind,
      on(
        "active to passive",
        (index, record) => index === 1 ? [flipBit(record, 100)] : [record],
      ),
    );
    assertBothFail(
      outcome,
      "was altered in transit: record 1 failed its integrity check",
      "was truncated",
    );
  }
});

Deno.test("On-path relay flips a bit of a record header (type or length): both sides fail", async () => {
  // Type 0x00 → 0x01: a data record passed off as the end record.
  let outcome = await session(
    "tcp",
    on(
      "active to passive",
      (index, record) => index === 0 ? [flipBit(record, 0)] : [record],
    ),
  );
  assertBothFail(outcome, "was altered in transit", "was truncated");
  // The low bit of the length: the reader cuts the record one byte off.
  outcome = await session(
    "tcp",
    on(
      "active to passive",
      (index, record) => index === 2 ? [flipBit(record, 4)] : [record],
    ),
  );
  assertBothFail(outcome, "was altered in transit", "was truncated");
});

Deno.test("On-path relay cuts the stream with a FIN after a record: both sides fail, the receiver with 'truncated'", async () => {
  for (const kind of ["tcp", "unix"] as const) {
    const outcome = await session(
      kind,
      on(
        "active to passive",
        (index, record) => index === 1 ? "cut" : [record],
      ),
    );
    assertBothFail(
      outcome,
      "was truncated: the connection ended between records without the peer's authenticated end record",
      "was truncated",
    );
  }
});

Deno.test("On-path relay replays, reorders or drops a record: both sides fail with 'altered in transit'", async () => {
  let held: Uint8Array | undefined;
  const attacks: Record<string, Tamper> = {
    replay: on(
      "active to passive",
      (index, record) => index === 0 ? [record, record] : [record],
    ),
    reorder: on("active to passive", (index, record) => {
      if (index === 0) {
        held = record;
        return [];
      }
      return index === 1 ? [record, held!] : [record];
    }),
    drop: on(
      "active to passive",
      (index, record) => index === 1 ? [] : [record],
    ),
    "drop a reply record": on(
      "passive to active",
      (index, record) => index === 0 ? [] : [record],
    ),
  };
  for (const [name, tamper] of Object.entries(attacks)) {
    const outcome = await session("tcp", tamper);
    if (name === "drop a reply record") {
      // The passive side got everything and sent its reply: it cannot know.
      // The active side must not take the shortened reply for the real one.
      assert(
        "error" in outcome.active,
        `${name}: the active side claimed success`,
      );
      assertInstanceOf(outcome.active.error, Deno.errors.InvalidData);
      assertStringIncludes(
        (outcome.active.error as Error).message,
        "was altered in transit: record 0 failed its integrity check",
      );
      continue;
    }
    assertBothFail(outcome, "was altered in transit", "was truncated");
  }
});

Deno.test("On-path relay drops the end record and passes the FIN: both sides fail, the receiver with 'truncated'", async () => {
  for (const kind of ["tcp", "unix"] as const) {
    const outcome = await session(
      kind,
      on("active to passive", (_, record) => record[0] === 1 ? [] : [record]),
    );
    assertBothFail(
      outcome,
      "was truncated: the connection ended between records",
      "was truncated",
    );
    // All the data arrived before the cut, and still it is not a success.
  }
});

Deno.test("On-path relay adds a record of its own (the end record of another session): both sides fail", async () => {
  const other = await session("tcp");
  const foreignEnd = other.mitm.seen["active to passive"].find((record) =>
    record[0] === 1 && record.length === 21
  )!;
  assert(foreignEnd !== undefined);
  const outcome = await session(
    "tcp",
    on(
      "active to passive",
      (index, record) => index === 1 ? [foreignEnd] : [record],
    ),
  );
  assertBothFail(outcome, "was altered in transit", "was truncated");
});

Deno.test("On-path relay with encrypt: false on both sides reads the marker on the wire (the opt-out is plain, and the relay sees what passes)", async () => {
  const { active, passive, mitm } = await session("tcp", undefined, false);
  assert("ok" in passive && "ok" in active);
  assertEquals(passive.ok, request);
  assert(contains(mitm.wire(), encoder.encode(MARKER)));
  assertFalse(contains(mitm.wire(), encoder.encode(SECRET)));
});

Deno.test("On-path relay reflects the active side's own records back to it: its key for the other direction refuses them", async () => {
  const mine: Uint8Array[] = [];
  const outcome = await session("tcp", (way, index, record) => {
    if (way === "active to passive") {
      mine.push(record);
      return [record];
    }
    // The reply is replaced with the active side's own first record.
    return index === 0 ? [mine[0]] : [record];
  });
  assert("ok" in outcome.passive, "the passive side got the request intact");
  assert("error" in outcome.active, "the active side took its own record");
  assertInstanceOf(outcome.active.error, Deno.errors.InvalidData);
  assertStringIncludes(
    (outcome.active.error as Error).message,
    "was altered in transit: record 0 failed its integrity check",
  );
});
