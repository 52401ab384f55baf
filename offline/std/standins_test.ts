// Pins the documented `@std` behaviour that the offline stand-ins copy, so
// that `deno task test` and `deno task test:jsr` agree.
import {
  assert,
  assertEquals,
  assertFalse,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { isIPv4, isIPv6 } from "@std/net/unstable-ip";
import { parseArgs } from "@std/cli/parse-args";
import { ProgressBar } from "@std/cli/unstable-progress-bar";

Deno.test("@std/net isIPv4 and isIPv6 accept well-formed addresses and refuse out-of-range ones", () => {
  assert(isIPv4("127.0.0.1"));
  assertFalse(isIPv4("256.0.0.1"));
  assertFalse(isIPv4("1.2.3"));
  assert(isIPv6("::ffff:127.0.0.1"));
  assert(isIPv6("2001:db8::1"));
  assertFalse(isIPv6("127.0.0.1"));
  assertFalse(isIPv6("1::2::3"));
  assertFalse(isIPv6("1:2:3:4:5:6:7:8:9"));
  assertFalse(isIPv6("12345::"));
});

// The leniency the project must never rely on (_ip.ts validates strictly):
// pinned so that a stand-in stricter than the real package shows up here.
Deno.test("@std/net isIPv4 accepts empty, hexadecimal and padded parts", () => {
  for (const text of ["1.2.3.", "...", "0x7f.0.0.1", " 1.2.3.4", "1e2.0.0.1"]) {
    assert(isIPv4(text), text);
  }
  assertFalse(isIPv4("1.2.3.-1"));
  assertFalse(isIPv4("a.b.c.d"));
});

Deno.test("@std/net isIPv6 accepts empty, colon-only and partly hexadecimal groups", () => {
  for (const text of ["", ":", "1g::", "fe80::1%eth0", "::1.2.3."]) {
    assert(isIPv6(text), JSON.stringify(text));
  }
  assertFalse(isIPv6("::-1"));
  assertFalse(isIPv6("g::"));
});

/** parseArgs with its result as a plain record (the real typings differ). */
function parse(
  args: string[],
  options: Record<string, unknown> = {},
): Record<string, unknown> {
  return parseArgs(args, options as Parameters<typeof parseArgs>[1]);
}

Deno.test("@std/cli parseArgs converts numbers unless the flag is a string", () => {
  const args = parse([
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
  assertEquals(parse(["--port", "-1"], { string: ["port"] }), {
    _: [],
    port: "",
    "1": true,
  });
});

Deno.test("@std/cli parseArgs handles booleans, aliases, collect, = values and --", () => {
  const args = parse(
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
  assertEquals(parse([], { collect: ["allow"], boolean: ["tls"] }), {
    _: [],
    tls: false,
  });
  assertEquals(
    parse([], { collect: ["allow"], string: ["allow"], boolean: ["tls"] }),
    { _: [], allow: [], tls: false },
  );
});

const CLI_LIKE = {
  boolean: ["help", "tls"],
  string: ["host", "allow"],
  collect: ["allow"],
  alias: { h: "help" },
};

Deno.test("@std/cli parseArgs gives an alias its flag's type: -h before a word is help plus a positional", () => {
  assertEquals(parse(["connect", "-h", "listen"], CLI_LIKE), {
    _: ["connect", "listen"],
    help: true,
    h: true,
    tls: false,
    allow: [],
  });
});

Deno.test("@std/cli parseArgs lets a boolean take a following true or false, and --flag=value", () => {
  const tlsOf = (args: string[]) => {
    const { tls, _ } = parse(args, CLI_LIKE);
    return { tls, _ };
  };
  assertEquals(tlsOf(["--tls", "false", "x"]), { tls: false, _: ["x"] });
  assertEquals(tlsOf(["--tls", "true"]), { tls: true, _: [] });
  assertEquals(tlsOf(["--tls", "yes"]), { tls: true, _: ["yes"] });
  assertEquals(tlsOf(["--tls=false"]), { tls: false, _: [] });
  assertEquals(tlsOf(["--tls=yes"]), { tls: true, _: [] });
  assertEquals(tlsOf(["--tls="]), { tls: true, _: [] });
});

Deno.test("@std/cli parseArgs reads -hx as -h plus an undeclared -x, and leaves an empty next argument alone", () => {
  const seen: Array<[string, string | undefined]> = [];
  const args = parse(["-hx", "--host", "", "--allow", "-1"], {
    ...CLI_LIKE,
    unknown: (arg: string, key?: string) => {
      seen.push([arg, key]);
      return false;
    },
  });
  assertEquals(seen, [["-hx", "x"], ["", undefined], ["-1", "1"]]);
  assertEquals(args, {
    _: [],
    help: true,
    h: true,
    tls: false,
    host: "",
    allow: [""],
  });
});

Deno.test("@std/cli parseArgs calls unknown for undeclared flags and drops them on false", () => {
  const seen: string[] = [];
  const args = parse(["pos", "--bogus"], {
    boolean: ["tls"],
    unknown: (arg: string) => {
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
