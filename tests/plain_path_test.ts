/**
 * The short paths issue 24 took for speed keep the behaviour of the long
 * ones: a plain connector (no TLS, secret, prompt, timeout or signal) dials
 * and accepts without the cancellation scope, the retry loop or the async
 * layers; stdin's terminal check is asked once; a lone `--version` answers
 * before the argument parser loads, and every other command line still goes
 * through it.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { Connector } from "../mod.ts";
import { stdinIsTerminal } from "../_terminal.ts";

const ROOT = new URL("..", import.meta.url);
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
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "--no-prompt",
      ...IMPORT_MAP_ARGS,
      new URL("cli.ts", ROOT).pathname,
      ...args,
    ],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("a plain active Connector whose transport throws at once rejects connect() (never throws), naming the endpoint", async () => {
  const connector = new Connector({
    host: "127.0.0.1",
    port: 9,
    transport: {
      connect(): Promise<Deno.Conn> {
        throw new Error("no route in this transport");
      },
    },
  });
  let connecting: Promise<Deno.Conn> | undefined;
  try {
    connecting = connector.connect();
  } catch (error) {
    throw new Error(`connect() threw instead of rejecting: ${error}`);
  }
  const error = await assertRejects(() => connecting!, Error);
  assertStringIncludes(error.message, "Cannot connect to 127.0.0.1:9");
  assertStringIncludes(error.message, "no route in this transport");
});

Deno.test("a plain active Connector refused at once rejects with ConnectionRefused naming the endpoint, after one attempt", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close(); // nobody listens there now
  const connector = new Connector({ host: "127.0.0.1", port });
  const error = await assertRejects(
    () => connector.connect(),
    Deno.errors.ConnectionRefused,
  );
  assertStringIncludes(error.message, `Cannot connect to 127.0.0.1:${port}`);
  assert(!error.message.includes("attempts"), error.message);
});

Deno.test("a plain passive Connector hands over the first peer, closes its listener at once, and reports no delivery confirmation", async () => {
  await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  using client = await Deno.connect({ hostname: "127.0.0.1", port });
  using server = await waiting;
  assertEquals(
    (server.remoteAddr as Deno.NetAddr).port,
    (client.localAddr as Deno.NetAddr).port,
  );
  assert(!passive.peerConfirmsDelivery);
  // The listener is closed: the port can be bound again at once.
  using _again = Deno.listen({ hostname: "127.0.0.1", port });
  await assertRejects(() => passive.connect(), Deno.errors.Busy);
});

Deno.test("stdinIsTerminal() gives Deno.stdin.isTerminal()'s answer, every time", () => {
  const answer = Deno.stdin.isTerminal();
  assertEquals(stdinIsTerminal(), answer);
  assertEquals(stdinIsTerminal(), answer);
});

Deno.test("cli: a lone --version prints the version; with anything else the parser decides", async () => {
  const { version } = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const alone = await runCli(["--version"]);
  assertEquals(alone, { code: 0, stdout: `connect ${version}\n`, stderr: "" });
  const withFlag = await runCli(["--version", "--quiet"]);
  assertEquals(withFlag.code, 0);
  assertEquals(withFlag.stdout, `connect ${version}\n`);
  const withUnknown = await runCli(["--version", "--no-such-flag"]);
  assertEquals(withUnknown.code, 2);
  assertEquals(withUnknown.stdout, "");
  assertStringIncludes(withUnknown.stderr, "--no-such-flag");
});

Deno.test("cli: a usage error in a command line that would connect exits 2 with one line, after its modules loaded", async () => {
  const result = await runCli(["connect", "127.0.0.1", "70000"]);
  assertEquals(result.code, 2);
  assertEquals(result.stdout, "");
  assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  assertStringIncludes(result.stderr, "70000");
});
