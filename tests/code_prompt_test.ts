/**
 * The code stays out of argv: `connect HOST PORT --code` asks for it on the
 * terminal (driven here through a pseudo-terminal made by `script`), the
 * command `listen --code` prints holds no code and runs as printed, `--code
 * CODE` warns, and a run without a terminal is told to use --secret-env or
 * --secret-file.
 *
 * @module
 */
import {
  assertEquals,
  assertFalse,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { randomBytes } from "./_helpers.ts";
import { Cli, listening, runCli, tempDir } from "./_cli.ts";

const decoder = new TextDecoder();

/** A folder with `deno` in it (this test's binary), for the printed command. */
async function denoOnPath(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/bin`);
  await Deno.symlink(Deno.execPath(), `${dir}/bin/deno`);
  return `${dir}/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
}

/**
 * Runs `command` in a shell on a pseudo-terminal (util-linux `script`): at
 * each code prompt types the next of `answers`, and resolves the exit code
 * and everything the terminal showed.
 */
async function runOnTerminal(
  command: string,
  answers: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; screen: string }> {
  const child = new Deno.Command("script", {
    args: ["-q", "-e", "-c", command, "/dev/null"],
    env,
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  let screen = "";
  let prompts = 0;
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    for await (const chunk of child.stdout) {
      screen += decoder.decode(chunk, { stream: true });
      const shown = screen.split("code (").length - 1;
      while (prompts < shown && prompts < answers.length) {
        await writer.write(new TextEncoder().encode(answers[prompts++]));
      }
    }
    const { code } = await child.status;
    await child.stderr.cancel();
    return { code, screen };
  } finally {
    clearTimeout(killer);
    await writer.close().catch(() => {});
  }
}

Deno.test("cli: the printed counterpart command holds no code, runs as printed from another folder, and takes the code at the prompt", async () => {
  await using dir = await tempDir();
  const data = randomBytes(300_000);
  await Deno.writeFile(`${dir}/data.bin`, data);
  const { cli: listener } = await listening([
    "--host",
    "127.0.0.1",
    "--code",
    "--send",
    `${dir}/data.bin`,
  ]);
  await using _ = listener;
  const [, code] = await listener.waitForStderr(/\ncode: (\S+)\n/);
  const [, command] = await listener.waitForStderr(/\n {2}(deno run .+)\n/);
  assertFalse(command.includes(code), command);
  assertMatch(command, / connect 127\.0\.0\.1 \d+ --code$/);
  await Deno.mkdir(`${dir}/elsewhere`);
  const env = { PATH: await denoOnPath(dir) };
  const run = await runOnTerminal(
    `${command} > ${dir}/received.bin`,
    [`${code.toUpperCase().replaceAll("-", " ")}\r`],
    env,
    `${dir}/elsewhere`,
  );
  assertEquals(run.code, 0, run.screen);
  assertFalse(run.screen.includes(code), `the code was echoed: ${run.screen}`);
  assertEquals(await Deno.readFile(`${dir}/received.bin`), data);
  const listened = await listener.result();
  assertEquals(listened.code, 0, listened.stderr);
});

Deno.test("cli: a code that does not parse is asked for again at the prompt", async () => {
  await using dir = await tempDir();
  const { cli: listener } = await listening([
    "--host",
    "127.0.0.1",
    "--code",
    "--timeout",
    "30",
  ]);
  await using _ = listener;
  const env = { PATH: await denoOnPath(dir) };
  const [, command] = await listener.waitForStderr(/\n {2}(deno run .+)\n/);
  // One attempt typed wrong, then Ctrl-C: the run stops with 130, nothing sent.
  const run = await runOnTerminal(
    command,
    ["42-apple-river-stone-quick\r", "\x03"],
    env,
    dir,
  );
  assertEquals(run.code, 130, run.screen);
  assertStringIncludes(run.screen, '"river" is not one of the code words');
  assertEquals(run.screen.split("code (").length - 1, 2, run.screen);
});

Deno.test("cli: connect --code without a terminal exits 2 naming --secret-env and --secret-file", async () => {
  const result = await runCli(["127.0.0.1", "9", "--code"], {
    permissions: ["--allow-net=127.0.0.1:9"],
  });
  assertEquals(result.code, 2, result.stderr);
  assertStringIncludes(result.stderr, "--secret-env NAME");
  assertStringIncludes(result.stderr, "--secret-file FILE");
  assertStringIncludes(result.stderr, "stdin is not one");
});

Deno.test("cli: --code CODE still works and warns that other local users can read it", async () => {
  const { cli: listener, port } = await listening([
    "--host",
    "127.0.0.1",
    "--code",
  ], { stdin: "piped" });
  await using _ = listener;
  const [, code] = await listener.waitForStderr(/\ncode: (\S+)\n/);
  await using connector = new Cli(
    ["127.0.0.1", String(port), "--code", code],
    { stdin: "piped" },
  );
  await Promise.all([
    connector.feed(new TextEncoder().encode("hello")),
    listener.feed(new Uint8Array(0)),
  ]);
  const [connected, listened] = await Promise.all([
    connector.result(),
    listener.result(),
  ]);
  assertEquals([connected.code, listened.code], [0, 0], connected.stderr);
  assertEquals(decoder.decode(listened.stdout), "hello");
  assertStringIncludes(connected.stderr, "other local users can read it");
});

Deno.test("cli: listen --code on 0.0.0.0 names this machine's addresses, or says how to find them", async () => {
  const expected = Deno.networkInterfaces()
    .filter((face) => face.family === "IPv4").map((face) => face.address);
  for (const sys of [true, false]) {
    await using listener = new Cli(
      ["listen", "--code", "--timeout", "10"],
      {
        permissions: [
          "--allow-net=0.0.0.0:0",
          ...(sys ? ["--allow-sys=networkInterfaces"] : []),
        ],
      },
    );
    const [, command] = await listener.waitForStderr(/\n {2}(deno run .+)\n/);
    const [, host] = command.match(/ connect (\S+) \d+ --code$/)!;
    if (sys) {
      const others = expected.length === 1 ? [] : (await listener.waitForStderr(
        /replace \S+ with one of: (.*)\)\n/,
      ))[1].split(", ");
      assertEquals([host, ...others].sort(), [...new Set(expected)].sort());
    } else {
      assertEquals(host, "HOST");
      await listener.waitForStderr(/HOST: an address of this machine/);
      assertStringIncludes(listener.stderr, "--allow-sys=networkInterfaces");
    }
  }
});
