/**
 * The CLI's `--relay HOST:PORT`: what it replaces, what it needs (`--code`,
 * whose 4-digit number is the channel), the flags it prints with
 * `--permissions`, and the usage errors around it. The transfers through a
 * real relay are in tests/peers/relay_test.ts.
 *
 * @module
 */
import {
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { parseCliArgs, UsageError } from "../cli/args.ts";
import { makeCode, normalizeCode } from "../cli/code.ts";
import { main } from "../cli.ts";

const CODE = "4711-apple-bread-stone-cloud";

Deno.test("cli relay: connect --relay HOST:PORT --code CODE meets on the code's number as channel, with the code as secret", () => {
  const options = parseCliArgs([
    "connect",
    "--relay",
    "relay.example:4001",
    "--code",
    "4711 Apple bread stone cloud",
  ]);
  assertEquals(options.connector.relay, {
    host: "relay.example",
    port: 4001,
    channel: "4711",
  });
  assertEquals(options.connector.secret, CODE);
  assertEquals(options.connector.host, undefined);
  assertEquals(options.connector.port, undefined);
  const ipv6 = parseCliArgs(["listen", "--relay", "[::1]:4001", "--code"]);
  assertEquals(ipv6.connector.mode, "passive");
  assertEquals(ipv6.connector.relay?.host, "[::1]");
});

Deno.test("cli relay: listen --relay makes a code with a 4-digit channel (1000-9999); a direct listener keeps 2 digits", () => {
  for (let round = 0; round < 200; round++) {
    const relayed = makeCode({ relay: true });
    assertMatch(relayed, /^[1-9]\d{3}(-[a-z]+){4}$/);
    assertEquals(normalizeCode(relayed), relayed);
    assertMatch(makeCode(), /^\d{2}(-[a-z]+){4}$/);
  }
});

Deno.test("cli relay: usage errors name what is wrong", () => {
  const cases: [string[], string][] = [
    [
      ["connect", "h", "1", "--relay", "r:1", "--code", CODE],
      "--relay replaces HOST and PORT",
    ],
    [
      ["listen", "9000", "--relay", "r:1", "--code"],
      "--relay replaces HOST and PORT",
    ],
    [
      ["connect", "--relay", "r", "--code", CODE],
      "--relay expects the relay's HOST:PORT",
    ],
    [
      ["connect", "--relay", "r:0", "--code", CODE],
      "--relay expects the relay's HOST:PORT",
    ],
    [
      ["connect", "--relay", "::1:4001", "--code", CODE],
      "--relay expects the relay's HOST:PORT",
    ],
    [["connect", "--relay", "a b:1", "--code", CODE], "--relay host"],
    [
      ["connect", "--relay", "r:1", "--secret-env", "X"],
      "--relay needs --code",
    ],
    [["listen", "--relay", "r:1"], "--relay needs --code"],
    [
      ["listen", "--relay", "r:1", "--code", "--tls"],
      "--tls cannot be combined with --relay",
    ],
    [
      ["listen", "--relay", "r:1", "--code", "--unix", "/tmp/s"],
      "--unix cannot be combined with --relay",
    ],
    [
      ["listen", "--relay", "r:1", "--code", "--allow", "127.0.0.1"],
      "--allow cannot be combined with --relay",
    ],
    [
      ["connect", "--relay", "r:1", "--code", "42-apple-bread-stone-cloud"],
      "has no relay channel in front",
    ],
    [["connect", "h", "1", "--code", CODE], "was made for a relay"],
  ];
  for (const [argv, message] of cases) {
    const error = assertThrows(() => parseCliArgs(argv), UsageError);
    assertStringIncludes(error.message, message, argv.join(" "));
  }
});

Deno.test("cli relay: --permissions asks for net access to the relay alone, plus the file flags", async () => {
  const out = await Deno.makeTempFile();
  try {
    // The import map of this run, so that the hermetic run stays offline.
    const map = import.meta.resolve("@std/cli/parse-args").includes("/offline/")
      ? [
        `--import-map=${
          new URL("../offline/import_map.json", import.meta.url).pathname
        }`,
      ]
      : [];
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "--no-prompt",
        ...map,
        "-A",
        new URL("../cli.ts", import.meta.url).pathname,
        "connect",
        "--relay",
        "relay.example:4001",
        "--code",
        CODE,
        "--send",
        out,
        "--permissions",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    assertEquals(code, 0, text.decode(stderr));
    assertEquals(
      text.decode(stdout),
      `--allow-net=relay.example:4001 --allow-read=${out}\n`,
    );
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("cli relay: a relay option without a code never reaches the network (exit 2)", async () => {
  assertEquals(await main(["connect", "--relay", "127.0.0.1:1", "--quiet"]), 2);
});
