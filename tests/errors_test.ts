/**
 * One error class per meaning, with fields a program (and the CLI) can act on
 * without reading the message: InvalidOptionError, adviceOf,
 * AuthenticationError, NotAllowedError, QueueFullError, ConnectorUsedError,
 * each still an instance of the Deno or JavaScript class it extends. The CLI
 * turns the fields into its flags (cli/messages.ts).
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  adviceOf,
  AuthenticationError,
  Connector,
  type ConnectorOptions,
  ConnectorUsedError,
  InvalidOptionError,
  NotAllowedError,
  QueueFullError,
  type RejectedPeer,
} from "../mod.ts";
import { acceptCounterpart, Progress } from "../_accept.ts";
import { inCliTerms } from "../cli/messages.ts";
import { LOCALHOST_TLS, TEST_CA } from "./_helpers.ts";

function invalidOption(options: unknown): InvalidOptionError {
  return assertThrows(
    () => new Connector(options as ConnectorOptions),
    InvalidOptionError,
  );
}

/** Resolves with the first peer the passive side turns away. */
function firstRejection(): {
  onRejectedPeer: (peer: RejectedPeer) => void;
  rejected: Promise<RejectedPeer>;
} {
  let onRejectedPeer!: (peer: RejectedPeer) => void;
  const rejected = new Promise<RejectedPeer>((resolve) => {
    onRejectedPeer = resolve;
  });
  return { onRejectedPeer, rejected };
}

Deno.test("InvalidOptionError names the option path and the reason, and is a TypeError", () => {
  const cases: [unknown, string, string][] = [
    [{ port: 1, tls: { hostname: "" } }, "tls.hostname", "non-empty string"],
    [
      { port: 1, tls: { caCerts: ["not a certificate"] } },
      "tls.caCerts[0]",
      "BEGIN CERTIFICATE",
    ],
    [{ port: 1, tls: { alpnProtocols: [""] } }, "tls.alpnProtocols", "array"],
    [
      { mode: "passive", tls: { certFile: "c", keyFile: "k", caFile: "a" } },
      "tls.caFile",
      "active connectors only",
    ],
    [{ port: 1, tls: { insecure: true } }, "tls", '"insecure"'],
    [{ port: 1, tls: { certFile: "c" } }, "tls", "missing key"],
    [
      {
        host: "127.0.0.1",
        port: 1,
        tls: { certFile: "c", keyFile: "k", hostname: "other.example" },
      },
      "tls.hostname",
      'the host dialled ("127.0.0.1")',
    ],
  ];
  for (const [options, option, reason] of cases) {
    const error = invalidOption(options);
    assertInstanceOf(error, TypeError);
    assertEquals(error.option, option, JSON.stringify(options));
    assertStringIncludes(error.reason, reason);
    assertEquals(error.message, `Invalid option "${option}": ${error.reason}`);
  }
});

Deno.test("cli: inCliTerms names the flag for an option error, and leaves other errors as they are", () => {
  assertEquals(
    inCliTerms(invalidOption({ port: 1, tls: { caCerts: ["x"] } })),
    'Invalid --ca: expected PEM text with at least one "-----BEGIN CERTIFICATE-----" block',
  );
  assertEquals(
    inCliTerms(invalidOption({ port: 1, tls: { alpnProtocols: [""] } })),
    "Invalid --alpn: expected an array of non-empty strings",
  );
  // An option the CLI has no flag for keeps the library's words.
  const error = invalidOption({ port: 1, tls: { insecure: true } });
  assertEquals(inCliTerms(error), error.message);
  assertEquals(inCliTerms("a string"), "a string");
});

Deno.test("a TLS failure an option fixes carries the option as advice; the CLI names its flag", async () => {
  await using listener = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: LOCALHOST_TLS,
  });
  const { port } = await listener.listen() as Deno.NetAddr;
  const waiting = listener.connect();
  const cases: [Partial<ConnectorOptions>, OptionAdviceExpectation][] = [
    [{ tls: true }, {
      option: "tls.caCerts",
      action: "add the CA with",
      cli: "; add the CA with --ca FILE",
      problem: "not signed by a trusted CA",
    }],
    [{ tls: { caCerts: [TEST_CA], hostname: "other.example" } }, {
      option: "tls.hostname",
      action: "dial that name or set",
      cli: "; dial that name or set --servername NAME",
      problem: 'not valid for the name "other.example"',
    }],
  ];
  for (const [options, expected] of cases) {
    const error = await assertRejects(
      () => new Connector({ host: "127.0.0.1", port, ...options }).connect(),
      Deno.errors.InvalidData,
    );
    const advice = adviceOf(error);
    assert(advice !== undefined, error.message);
    assertEquals([advice.option, advice.action], [
      expected.option,
      expected.action,
    ]);
    assertStringIncludes(advice.problem, expected.problem);
    assertEquals(
      error.message,
      `${advice.problem}; ${advice.action} ${advice.option}`,
    );
    assertEquals(inCliTerms(error), `${advice.problem}${expected.cli}`);
  }
  listener.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);
  assertEquals(adviceOf(new Error("plain")), undefined);
});

interface OptionAdviceExpectation {
  option: string;
  action: string;
  cli: string;
  problem: string;
}

Deno.test("a wrong secret is an AuthenticationError on both sides (a PermissionDenied), never a NotAllowedError", async () => {
  const seen = firstRejection();
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    secret: "the right secret",
    onRejectedPeer: seen.onRejectedPeer,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  const error = await assertRejects(
    () =>
      new Connector({ host: "127.0.0.1", port, secret: "a wrong one" })
        .connect(),
    AuthenticationError,
  );
  assertInstanceOf(error, Deno.errors.PermissionDenied);
  assertEquals(String(error).split(":")[0], "AuthenticationError");
  const { error: reason } = await seen.rejected;
  assertInstanceOf(reason, AuthenticationError);
  assertFalse(reason instanceof NotAllowedError);
  passive.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);
});

Deno.test("a peer outside the allow list is a NotAllowedError (a PermissionDenied), never an AuthenticationError", async () => {
  const seen = firstRejection();
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    allow: ["192.0.2.1"],
    onRejectedPeer: seen.onRejectedPeer,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  using _peer = await Deno.connect({ hostname: "127.0.0.1", port });
  const { error: reason } = await seen.rejected;
  assertInstanceOf(reason, NotAllowedError);
  assertInstanceOf(reason, Deno.errors.PermissionDenied);
  assertFalse(reason instanceof AuthenticationError);
  passive.close();
  await assertRejects(() => waiting, Deno.errors.Interrupted);
});

Deno.test("a second connect() is a ConnectorUsedError (a Busy), never a QueueFullError", async () => {
  await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
  await passive.listen();
  const first = passive.connect();
  const error = await assertRejects(
    () => passive.connect(),
    ConnectorUsedError,
    "one connection",
  );
  assertInstanceOf(error, Deno.errors.Busy);
  assertEquals(error.name, "ConnectorUsedError");
  assertFalse(error instanceof QueueFullError);
  passive.close();
  await assertRejects(() => first, Deno.errors.Interrupted);
});

Deno.test("a peer dropped from a full vetting queue is a QueueFullError (a Busy), never a ConnectorUsedError", async () => {
  const QUEUE = 2;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stop = new AbortController();
  const reasons: unknown[] = [];
  let dropped!: () => void;
  const firstDrop = new Promise<void>((resolve) => dropped = resolve);
  const waiting = acceptCounterpart({
    listener,
    signal: stop.signal,
    allow: undefined,
    queueSize: QUEUE,
    // Every peer is in vetting and speaking (never dropped as silent), and
    // none completes: the third one overflows the queue.
    vet: (_conn, signal, onProgress) => {
      onProgress(Progress.Speaking);
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      );
    },
    closeListener: () => listener.close(),
    onRejected: (_peer, reason) => {
      reasons.push(reason);
      dropped();
    },
    acceptError: (error) => error,
  });
  const peers: Deno.Conn[] = [];
  try {
    for (let index = 0; index <= QUEUE; index++) {
      peers.push(
        await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      );
    }
    await firstDrop;
    assertEquals(reasons.length, 1);
    assertInstanceOf(reasons[0], QueueFullError);
    assertInstanceOf(reasons[0], Deno.errors.Busy);
    assertFalse(reasons[0] instanceof ConnectorUsedError);
  } finally {
    stop.abort(new Deno.errors.Interrupted("test over"));
    await assertRejects(() => waiting, Deno.errors.Interrupted);
    for (const peer of peers) peer.close();
  }
});
