// Pins the documented `@std` behaviour that the offline stand-ins copy, so
// that `deno task test` and `deno task test:jsr` agree.
import {
  assert,
  assertEquals,
  assertFalse,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { isIPv4, isIPv6, matchSubnets } from "@std/net/unstable-ip";
import { parseArgs } from "@std/cli/parse-args";
import { ProgressBar } from "@std/cli/unstable-progress-bar";

Deno.test("@std/net matchSubnets matches CIDR ranges of the address's family", () => {
  assert(matchSubnets("192.168.1.10", ["192.168.1.0/24"]));
  assertFalse(matchSubnets("192.168.2.10", ["192.168.1.0/24"]));
  assert(matchSubnets("2001:db8::ffff", ["2001:db8::/64"]));
  assertFalse(matchSubnets("2001:db9::1", ["2001:db8::/64"]));
});

Deno.test("@std/net matchSubnets compares plain entries verbatim and never maps IPv4 into IPv6", () => {
  assert(matchSubnets("::1", ["::1"]));
  assertFalse(matchSubnets("::1", ["0:0:0:0:0:0:0:1"]));
  assertFalse(matchSubnets("::ffff:127.0.0.1", ["127.0.0.1/32"]));
  assertFalse(matchSubnets("::ffff:127.0.0.1", ["127.0.0.1"]));
  assertFalse(matchSubnets("not an ip", ["0.0.0.0/0"]));
  assertFalse(matchSubnets("10.0.0.1", ["10.0.0.0/33"]));
});

Deno.test("@std/net isIPv4 and isIPv6 validate addresses", () => {
  assert(isIPv4("127.0.0.1"));
  assertFalse(isIPv4("256.0.0.1"));
  assert(isIPv6("::ffff:127.0.0.1"));
  assertFalse(isIPv6("127.0.0.1"));
});

Deno.test("@std/cli parseArgs converts numbers unless the flag is a string", () => {
  const args = parseArgs([
    "connect",
    "host",
    "7000",
    "--retry",
    "3",
    "--host",
    "10",
  ], {
    string: ["host"],
  });
  assertEquals(args, { _: ["connect", "host", 7000], retry: 3, host: "10" });
});

Deno.test("@std/cli parseArgs gives a string flag followed by a dash argument the empty string", () => {
  assertEquals(parseArgs(["--port", "-1"], { string: ["port"] }), {
    _: [],
    port: "",
    "1": true,
  });
});

Deno.test("@std/cli parseArgs handles booleans, aliases, collect, = values and --", () => {
  const args = parseArgs(
    ["-h", "--allow=a", "--allow", "b", "--tls", "x", "--", "--not-a-flag"],
    {
      boolean: ["help", "tls"],
      collect: ["allow"],
      string: ["allow"],
      alias: { h: "help" },
    },
  );
  assertEquals(args, {
    _: ["x", "--not-a-flag"],
    help: true,
    h: true,
    tls: true,
    allow: ["a", "b"],
  });
  assertEquals(parseArgs([], { collect: ["allow"], boolean: ["tls"] }), {
    _: [],
    allow: [],
    tls: false,
  });
});

Deno.test("@std/cli parseArgs calls unknown for undeclared flags and drops them on false", () => {
  const seen: string[] = [];
  const args = parseArgs(["pos", "--bogus"], {
    boolean: ["tls"],
    unknown: (arg) => {
      seen.push(arg);
      return !arg.startsWith("-");
    },
  });
  assertEquals(seen, ["pos", "--bogus"]);
  assertEquals(args, { _: ["pos"], tls: false });
});

Deno.test("@std/cli ProgressBar draws lines on its writable until stop()", async () => {
  const chunks: Uint8Array[] = [];
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => void chunks.push(chunk),
  });
  const bar = new ProgressBar({
    max: 100,
    writable,
    formatter: (x) => `${x.value}/${x.max}`,
  });
  bar.value = 40;
  await bar.stop();
  const text = new TextDecoder().decode(
    new Uint8Array(chunks.flatMap((c) => [...c])),
  );
  assert(text.includes("0/100"), text);
  assert(text.endsWith("40/100\n"), JSON.stringify(text));
});

Deno.test("@std/assert assertThrows and assertRejects check class and message", async () => {
  const error = assertThrows(
    () => {
      throw new RangeError("out of range");
    },
    RangeError,
    "range",
  );
  assertEquals(error.message, "out of range");
  await assertRejects(
    () => Promise.reject(new TypeError("bad")),
    TypeError,
    "bad",
  );
  assertThrows(() => assertEquals({ a: 1 }, { a: 2 }));
  assertThrows(() => assertThrows(() => {}));
});
