import { assert, assertEquals, assertThrows } from "@std/assert";
import { Connector, type ConnectorOptions, OptionRangeError } from "../mod.ts";

function construct(options: unknown): () => Connector {
  return () => new Connector(options as ConnectorOptions);
}

Deno.test("new Connector() rejects an unknown option name with TypeError naming it", () => {
  assertThrows(
    construct({ host: "127.0.0.1", prot: 7000 }),
    TypeError,
    'Unknown option "prot"',
  );
});

Deno.test("new Connector() rejects a bad mode with TypeError naming the value and the two allowed", () => {
  const error = assertThrows(construct({ mode: "server", port: 1 }), TypeError);
  assertEquals(
    error.message,
    'Invalid mode "server": expected "active" or "passive"',
  );
});

Deno.test("new Connector() rejects a port out of range or not an integer with RangeError", () => {
  for (const port of [0, -1, 65536, 1.5, NaN, Infinity]) {
    assertThrows(construct({ port }), RangeError, "1 to 65535");
  }
  for (const port of [-1, 65536, 80.5]) {
    assertThrows(
      construct({ mode: "passive", port }),
      RangeError,
      "0 to 65535",
    );
  }
  assertThrows(construct({ port: "7000" }), TypeError, "port");
});

Deno.test("new Connector() in active mode requires a port", () => {
  assertThrows(
    construct({ host: "127.0.0.1" }),
    TypeError,
    'Missing option "port"',
  );
});

Deno.test("new Connector() rejects allow in active mode and retry in passive mode", () => {
  assertThrows(
    construct({ port: 1, allow: ["127.0.0.1"] }),
    TypeError,
    "passive connectors only",
  );
  assertThrows(
    construct({ mode: "passive", retry: { attempts: 2, delay: 1 } }),
    TypeError,
    "active connectors only",
  );
});

Deno.test("new Connector() validates allow entries as IP addresses or CIDR ranges", () => {
  for (
    const entry of [
      "localhost",
      "10.0.0.0/33",
      "::1/129",
      "1.2.3.4/8/9",
      "",
      "1.2.3.",
      "/0",
      ":",
      "1g::/16",
      "fe80::%eth0/10",
      "10.0.0.0/+8",
      7,
    ]
  ) {
    assertThrows(
      construct({ mode: "passive", allow: [entry] }),
      TypeError,
      'Invalid "allow" entry',
    );
  }
  assertThrows(
    construct({ mode: "passive", allow: "127.0.0.1" }),
    TypeError,
    "array",
  );
  new Connector({
    mode: "passive",
    allow: ["10.0.0.0/8", "::1", "fd00::/8", "192.168.1.7", "[::1]/128"],
  });
});

Deno.test("new Connector() validates retry, timeout, signal, transport and path", () => {
  assertThrows(
    construct({ port: 1, retry: { attempts: 0, delay: 1 } }),
    RangeError,
    "attempts",
  );
  assertThrows(
    construct({ port: 1, retry: { attempts: 2, delay: -1 } }),
    RangeError,
    "retry.delay",
  );
  assertThrows(
    construct({ port: 1, retry: { attempts: 2, delay: 10, maxDelay: 5 } }),
    RangeError,
    "maxDelay",
  );
  assertThrows(
    construct({ port: 1, retry: { attempts: 2, delay: 1, jitter: 1 } }),
    TypeError,
    "jitter",
  );
  assertThrows(construct({ port: 1, timeout: 0 }), RangeError, "timeout");
  assertThrows(construct({ port: 1, timeout: "5s" }), TypeError, "timeout");
  assertThrows(construct({ port: 1, signal: {} }), TypeError, "AbortSignal");
  assertThrows(construct({ port: 1, transport: {} }), TypeError, "connect()");
  assertThrows(
    construct({ mode: "passive", transport: { connect() {} } }),
    TypeError,
    "listen()",
  );
  assertThrows(
    construct({ path: "/tmp/a.sock", port: 1 }),
    TypeError,
    '"port"',
  );
  assertThrows(construct({ path: "" }), TypeError, "path");
  assertThrows(construct(null), TypeError, "expected an object");
});

Deno.test("new Connector() freezes its options and needs no permission", () => {
  const connector = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    allow: ["::1"],
  });
  assertEquals(Object.isFrozen(connector.options), true);
  assertEquals(Object.isFrozen(connector.options.allow), true);
  assertEquals(Object.isFrozen(connector.permissions), true);
  assertEquals(connector.mode, "passive");
  assertEquals(new Connector({ port: 80 }).mode, "active");
});

Deno.test("new Connector() accepts confirmDelivery only as a boolean and only with a secret", () => {
  assertThrows(
    construct({ port: 1, secret: "s", confirmDelivery: "yes" }),
    TypeError,
    '"confirmDelivery": expected a boolean',
  );
  assertThrows(
    construct({ port: 1, confirmDelivery: true }),
    TypeError,
    'it is announced inside the secret exchange, so it needs "secret"',
  );
  construct({ port: 1, secret: "s", confirmDelivery: false })();
});

Deno.test("new Connector() names the option out of range in OptionRangeError's fields (a RangeError)", () => {
  const cases: [unknown, string, string][] = [
    [{ port: 70000 }, "port", "70000 is not an integer from 1 to 65535"],
    [
      { port: 1, timeout: -5 },
      "timeout",
      "-5 is out of range; expected 1 to 2147483647 milliseconds, or Infinity",
    ],
    [
      { port: 1, retry: { attempts: 0, delay: 10 } },
      "retry.attempts",
      "0 is not an integer ≥ 1 (total attempts)",
    ],
    [
      { port: 1, retry: { attempts: 2, delay: 10, maxDelay: 5 } },
      "retry.maxDelay",
      "5 is less than retry.delay (10)",
    ],
  ];
  for (const [options, option, reason] of cases) {
    const error = assertThrows(construct(options), OptionRangeError);
    assert(error instanceof RangeError);
    assertEquals([error.option, error.reason], [option, reason]);
    assertEquals(error.message, `Invalid option "${option}": ${reason}`);
  }
});
