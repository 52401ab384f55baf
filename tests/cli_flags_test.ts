/**
 * The CLI's reading of flags and addresses, under whichever `@std/cli` the
 * run resolves (`deno task test`: the stand-in; `deno task test:jsr`: the
 * real package): `-h`, boolean values, unknown short groups, strict HOST,
 * `--host` and `--allow`. The subprocess tests run `cli.ts` the same way.
 *
 * @module
 */
import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { parseCliArgs, UsageError } from "../cli/args.ts";

const ROOT = new URL("..", import.meta.url);
const CLI_PATH = new URL("cli.ts", ROOT).pathname;
/** The offline import map when this run uses the stand-ins, else none. */
const IMPORT_MAP_ARGS: string[] =
  import.meta.resolve("@std/cli/parse-args").startsWith(
      new URL("offline/", ROOT).href,
    )
    ? [`--import-map=${new URL("offline/import_map.json", ROOT).pathname}`]
    : [];

async function runCli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--no-prompt",
      ...IMPORT_MAP_ARGS,
      "-N",
      CLI_PATH,
      ...args,
    ],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return {
      code,
      stdout: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
    };
  } finally {
    clearTimeout(killer);
  }
}

Deno.test("parseCliArgs reads -h before a word as help, wherever it stands", () => {
  for (
    const argv of [["-h", "listen"], ["connect", "-h", "listen"], [
      "listen",
      "-h",
    ]]
  ) {
    assertEquals(parseCliArgs(argv).command, "help", JSON.stringify(argv));
  }
});

Deno.test("parseCliArgs reads --tls false and --tls=false as off, without a stray operand", () => {
  for (
    const argv of [["listen", "--tls", "false"], ["listen", "--tls=false"]]
  ) {
    const options = parseCliArgs(argv);
    assertEquals(options.command, "listen");
    assertEquals(options.connector.tls, undefined);
    assertEquals(options.connector.port, 0);
  }
  const on = parseCliArgs([
    "listen",
    "--tls",
    "true",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
  ]);
  assertEquals(typeof on.connector.tls, "object");
});

Deno.test("parseCliArgs refuses a boolean flag given another value, and unknown short groups", () => {
  for (
    const [argv, message] of [
      [
        ["listen", "--tls=yes"],
        '--tls takes no value (or true/false), got "--tls=yes"',
      ],
      [["listen", "--json="], "--json takes no value"],
      [["listen", "-h=1"], "-h/--help takes no value"],
      [["listen", "-h5"], "-h/--help takes no value"],
      [["-hx"], 'unknown option "-hx"'],
      [["listen", "-xh"], 'unknown option "-xh"'],
    ] as const
  ) {
    assertThrows(
      () => parseCliArgs([...argv]),
      UsageError,
      message,
      JSON.stringify(argv),
    );
  }
});

Deno.test("parseCliArgs refuses a malformed HOST, --host or --allow, naming it as typed", () => {
  for (
    const [argv, message] of [
      [["connect", "127.0.0.1:80", "9"], 'HOST "127.0.0.1:80" is not'],
      [["connect", " ", "9"], 'HOST " " is not'],
      [["connect", "[::1", "9"], 'HOST "[::1" is not'],
      [["connect", "http://x", "9"], 'HOST "http://x" is not'],
      [["connect", "a\0b", "9"], 'HOST "a\\u0000b" is not'],
      [["listen", "--host", "0.0.0.0:9"], '--host "0.0.0.0:9" is not'],
      [["listen", "--allow", "1.2.3."], '--allow "1.2.3." is not'],
      [["listen", "--allow", "/0"], '--allow "/0" is not'],
      [["listen", "--allow", ":"], '--allow ":" is not'],
      [["listen", "--allow", "1g::/16"], '--allow "1g::/16" is not'],
      [["listen", "--allow", "fe80::%eth0/10"], '--allow "fe80::%eth0/10"'],
      [["listen", "--allow=10.0.0.0/+8"], '--allow "10.0.0.0/+8"'],
    ] as const
  ) {
    assertThrows(
      () => parseCliArgs([...argv]),
      UsageError,
      message,
      JSON.stringify(argv),
    );
  }
  const options = parseCliArgs([
    "listen",
    "--host",
    "[::1]",
    "--allow",
    "::ffff:127.0.0.0/104",
    "--allow",
    "10.0.0.0/8",
  ]);
  assertEquals(options.connector.host, "[::1]");
  assertEquals(options.connector.allow, ["::ffff:127.0.0.0/104", "10.0.0.0/8"]);
  assertEquals(
    parseCliArgs(["connect", "fe80::1%lo", "9"]).connector.host,
    "fe80::1%lo",
  );
});

Deno.test("connect -h listen prints the help on stdout and exits 0", async () => {
  const { code, stdout, stderr } = await runCli(["connect", "-h", "listen"]);
  assertEquals({ code, stderr }, { code: 0, stderr: "" });
  assertStringIncludes(stdout, "Usage:");
});

Deno.test("connect with a malformed host, allow entry or boolean value exits 2 with one line naming it", async () => {
  const cases = [
    [["connect", "127.0.0.1:80", "9"], 'HOST "127.0.0.1:80"'],
    [["listen", "--allow", "1g::/16"], '--allow "1g::/16"'],
    [["listen", "--tls=yes"], '"--tls=yes"'],
    // (A NUL byte cannot be passed in argv: parseCliArgs is tested above.)
    [["connect", "127.0.0.1:80", "9", "--permissions"], 'HOST "127.0.0.1:80"'],
  ] as const;
  const results = await Promise.all(cases.map(([argv]) => runCli([...argv])));
  results.forEach(({ code, stdout, stderr }, index) => {
    const [argv, named] = cases[index];
    const label = JSON.stringify(argv);
    assertEquals(code, 2, `${label}: ${stderr}`);
    assertEquals(stdout, "", label);
    assertEquals(stderr.trimEnd().split("\n").length, 1, `${label}: ${stderr}`);
    assertStringIncludes(stderr, named, label);
  });
});
