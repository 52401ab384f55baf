/**
 * Demo of the `connect` CLI: a listener and a connector as two processes move
 * a file over TLS on loopback, each run with exactly the permissions that
 * `--permissions` printed for it, and the SHA-256 of both copies is compared.
 *
 * Run with `deno task demo:cli`.
 *
 * @module
 */

const root = new URL("../", import.meta.url);
const cli = new URL("cli.ts", root).pathname;
const importMap = new URL("offline/import_map.json", root).pathname;
const fixtures = new URL("tests/fixtures/", root).pathname;
const decoder = new TextDecoder();

function command(flags: string[], args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--import-map=${importMap}`,
      ...flags,
      cli,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Asks the CLI which `deno run` flags `args` need. */
async function permissionsFor(args: string[]): Promise<string[]> {
  const output = await command([], [...args, "--permissions"]).output();
  if (!output.success) throw new Error(decoder.decode(output.stderr));
  return decoder.decode(output.stdout).trim().split(" ");
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await Deno.readFile(path),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

const dir = await Deno.makeTempDir({ prefix: "connect_demo_cli_" });
try {
  const source = `${dir}/payload.bin`;
  const target = `${dir}/received.bin`;
  const payload = new Uint8Array(16 * 1024 * 1024);
  for (let offset = 0; offset < payload.length; offset += 65536) {
    crypto.getRandomValues(payload.subarray(offset, offset + 65536));
  }
  await Deno.writeFile(source, payload);

  const listenArgs = [
    "listen",
    "--host",
    "127.0.0.1",
    "--tls",
    "--cert",
    `${fixtures}localhost.pem`,
    "--key",
    `${fixtures}localhost.key.pem`,
    "--recv",
    target,
  ];
  const listenFlags = await permissionsFor(listenArgs);
  console.log(
    `$ deno run ${listenFlags.join(" ")} cli.ts ${listenArgs.join(" ")}`,
  );
  const listener = command(listenFlags, listenArgs).spawn();
  const stderr = listener.stderr.getReader();
  let said = "";
  while (!/listening on .*:(\d+)\n/.test(said)) {
    const { value, done } = await stderr.read();
    if (done) throw new Error(`the listener exited: ${said}`);
    said += decoder.decode(value);
  }
  stderr.releaseLock();
  const port = /listening on .*:(\d+)\n/.exec(said)![1];
  console.log(`  ${said.trim()}`);

  const connectArgs = [
    "connect",
    "127.0.0.1",
    port,
    "--tls",
    "--ca",
    `${fixtures}ca.pem`,
    "--servername",
    "localhost",
    "--send",
    source,
    "--json",
  ];
  const connectFlags = await permissionsFor(connectArgs);
  console.log(
    `$ deno run ${connectFlags.join(" ")} cli.ts ${connectArgs.join(" ")}`,
  );
  const connected = await command(connectFlags, connectArgs).output();
  const listened = await listener.output();
  const events = decoder.decode(connected.stderr).trim().split("\n").map((
    line,
  ) => JSON.parse(line));
  const done = events.find((event) => event.event === "done");
  console.log(
    `  connect exited ${connected.code}, listen exited ${listened.code}`,
  );
  if (connected.code !== 0 || listened.code !== 0 || done === undefined) {
    throw new Error(
      `the transfer failed: ${decoder.decode(connected.stderr)} ${
        decoder.decode(listened.stderr)
      }`,
    );
  }
  const [sent, received] = await Promise.all([sha256(source), sha256(target)]);
  console.log(
    `  ${done.sent} bytes over TLS in ${done.seconds} s (${
      (done.sent / 1e6 / done.seconds).toFixed(0)
    } MB/s)`,
  );
  console.log(`  SHA-256 sent     ${sent}`);
  console.log(`  SHA-256 received ${received}`);
  if (sent !== received) throw new Error("the digests differ");
  console.log("  digests match");
} finally {
  await Deno.remove(dir, { recursive: true });
}
