/**
 * Permission scoping, proven in subprocesses: each script in
 * `tests/permission_scripts/` runs under `--no-prompt` with exactly the flags
 * that `permissionFlags(connector.permissions)` reports and succeeds, then
 * once per permission with that one left out and fails with `NotCapable`
 * naming the missing flag. This process (run with -A) plays the counterpart
 * on loopback.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  Connector,
  type ConnectorOptions,
  type ConnectorPermission,
  permissionFlags,
  queryPermissions,
} from "../mod.ts";
import { missingPermissionError, permissionFlag } from "../permissions.ts";
import {
  assertPermissionsGranted,
  explainDenial,
  formatPermissionFlags,
} from "../permissions.ts";
import { everyKindOfConnector } from "./permission_scripts/_every_kind.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const IMPORT_MAP = `${ROOT}offline/import_map.json`;
const SCRIPTS = `${ROOT}tests/permission_scripts/`;
const FIXTURES = `${ROOT}tests/fixtures/`;
/** A bound for each subprocess: generous, the machine is shared. */
const CHILD_TIMEOUT = 60_000;
/** The connector's own bound on setup, in the parent and in the scripts. */
const SETUP_TIMEOUT = 30_000;

const caPem = Deno.readTextFileSync(`${FIXTURES}ca.pem`);
const serverPem = Deno.readTextFileSync(`${FIXTURES}localhost.pem`);
const serverKeyPem = Deno.readTextFileSync(`${FIXTURES}localhost.key.pem`);

interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function readAll(
  stream: ReadableStream<Uint8Array>,
  onLine?: (line: string) => void,
): Promise<string> {
  let text = "";
  let seen = 0;
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    let end: number;
    while ((end = text.indexOf("\n", seen)) !== -1) {
      onLine?.(text.slice(seen, end));
      seen = end + 1;
    }
  }
  return text;
}

/**
 * Runs `deno run --no-prompt --import-map=… <flags> <script> <args>` with no
 * stdin, killing it after {@linkcode CHILD_TIMEOUT}. `onLine` sees each line
 * of stdout as it arrives.
 */
async function runScript(
  script: string,
  flags: readonly string[],
  args: readonly string[],
  onLine?: (line: string) => void,
  { noPrompt = true, env = {} }: {
    noPrompt?: boolean;
    env?: Record<string, string>;
  } = {},
): Promise<ChildResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(noPrompt ? ["--no-prompt"] : []),
      `--import-map=${IMPORT_MAP}`,
      ...flags,
      `${SCRIPTS}${script}`,
      ...args,
    ],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, CHILD_TIMEOUT);
  try {
    const [stdout, stderr, status] = await Promise.all([
      readAll(child.stdout, onLine),
      readAll(child.stderr),
      child.status,
    ]);
    assert(
      !timedOut,
      `${script} ${
        flags.join(" ")
      } was killed after ${CHILD_TIMEOUT} ms; stderr: ${stderr}`,
    );
    return { code: status.code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Answers the scripts' `ping` with `pong` and closes. */
async function answerPing(conn: Deno.Conn): Promise<void> {
  try {
    const buffer = new Uint8Array(4);
    let filled = 0;
    while (filled < 4) {
      const count = await conn.read(buffer.subarray(filled));
      if (count === null) break;
      filled += count;
    }
    assertEquals(new TextDecoder().decode(buffer.subarray(0, filled)), "ping");
    await conn.write(new TextEncoder().encode("pong"));
  } finally {
    conn.close();
  }
}

/**
 * One run of a script: the child's options and this process's side. For a
 * passive child, `counterpart` is called with the address the child printed;
 * for an active child, at once.
 */
interface Run extends AsyncDisposable {
  options: ConnectorOptions;
  /** Environment variables for the child. */
  env?: Record<string, string>;
  counterpart(address?: Deno.Addr): Promise<void>;
}

/** This process listens (passive connector) and the child connects to it. */
async function childConnectsTo(
  listenOptions: ConnectorOptions,
  childOptions: (address: Deno.Addr) => ConnectorOptions,
  cleanup?: () => Promise<void>,
): Promise<Run> {
  const passive = new Connector({
    mode: "passive",
    timeout: SETUP_TIMEOUT,
    ...listenOptions,
  });
  const address = await passive.listen();
  return {
    options: childOptions(address),
    counterpart: async () => await answerPing(await passive.connect()),
    async [Symbol.asyncDispose]() {
      passive.close();
      await cleanup?.();
    },
  };
}

/** The child listens and this process connects to the address it printed. */
function childListens(
  options: ConnectorOptions,
  activeOptions: (address: Deno.Addr) => ConnectorOptions,
  cleanup?: () => Promise<void>,
): Run {
  return {
    options,
    counterpart: async (address) => {
      const active = new Connector({
        timeout: SETUP_TIMEOUT,
        ...activeOptions(address!),
      });
      await answerPing(await active.connect());
    },
    async [Symbol.asyncDispose]() {
      await cleanup?.();
    },
  };
}

/** Runs `connector_peer.ts` for one setup with the given flags. */
async function runPeer(
  run: Run,
  flags: readonly string[],
): Promise<ChildResult & { counterpart: Promise<void> | undefined }> {
  // Each counterpart is marked as handled at once: on a failed run, closing
  // it rejects it; a successful run awaits it in assertSucceeded().
  let counterpart: Promise<void> | undefined;
  const passive = run.options.mode === "passive";
  if (!passive) {
    counterpart = run.counterpart();
    counterpart.catch(() => {});
  }
  const result = await runScript(
    "connector_peer.ts",
    flags,
    [JSON.stringify(run.options)],
    (line) => {
      if (passive && line.startsWith("listening ")) {
        counterpart = run.counterpart(JSON.parse(line.slice(10)));
        counterpart.catch(() => {});
      }
    },
    { env: run.env },
  );
  return { ...result, counterpart };
}

/** Asserts the child succeeded and the counterpart exchanged ping and pong. */
async function assertSucceeded(
  result: ChildResult & { counterpart?: Promise<void> },
  flags: readonly string[],
): Promise<void> {
  assertEquals(
    result.code,
    0,
    `expected success with ${flags.join(" ")}; stderr: ${result.stderr}`,
  );
  assertEquals(result.stdout.trim().split("\n").at(-1), "ok");
  await result.counterpart;
}

/** Asserts the child failed with NotCapable naming `flag`. */
function assertDenied(
  result: ChildResult,
  flags: readonly string[],
  flag: string,
): void {
  assertEquals(
    result.code,
    1,
    `expected NotCapable with only ${
      flags.join(" ") || "no flags"
    }; stdout: ${result.stdout}; stderr: ${result.stderr}`,
  );
  assert(
    result.stderr.startsWith("NotCapable: "),
    `expected a NotCapable error, got: ${result.stderr}`,
  );
  assertStringIncludes(result.stderr, flag);
}

/**
 * The core proof for one configuration: with exactly the reported flags the
 * script succeeds; without any one permission it fails naming that flag.
 * `setUp` makes a fresh run (new port, new socket path) each time.
 */
async function assertExactPermissions(
  setUp: () => Run | Promise<Run>,
): Promise<readonly ConnectorPermission[]> {
  let permissions: readonly ConnectorPermission[];
  {
    await using run = await setUp();
    permissions = new Connector(run.options).permissions;
    const flags = permissionFlags(permissions);
    await assertSucceeded(await runPeer(run, flags), flags);
  }
  for (let index = 0; index < permissions.length; index++) {
    await using run = await setUp();
    const all = new Connector(run.options).permissions;
    const flags = permissionFlags(all.filter((_, other) => other !== index));
    const result = await runPeer(run, flags);
    await run[Symbol.asyncDispose]();
    await result.counterpart?.catch(() => {});
    assertDenied(result, flags, permissionFlag(all[index]));
  }
  return permissions;
}

async function temporarySocketPath(): Promise<
  { path: string; remove: () => Promise<void> }
> {
  const directory = await Deno.makeTempDir({ prefix: "transfer_connect_" });
  return {
    path: `${directory}/peer.sock`,
    // Idempotent: a run may be disposed early and again at scope exit.
    remove: () =>
      Deno.remove(directory, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }),
  };
}

Deno.test("active TCP to 127.0.0.1 runs with exactly --allow-net=127.0.0.1:<port>", async () => {
  const permissions = await assertExactPermissions(() =>
    childConnectsTo(
      { host: "127.0.0.1" },
      (address) => ({
        host: "127.0.0.1",
        port: (address as Deno.NetAddr).port,
        timeout: SETUP_TIMEOUT,
      }),
    )
  );
  assertEquals(permissions.length, 1);
  assertEquals(permissions[0].name, "net");
});

Deno.test("active TCP by the name localhost needs localhost:<port>, which 127.0.0.1:<port> does not cover", async () => {
  const permissions = await assertExactPermissions(() =>
    childConnectsTo(
      { host: "localhost" },
      (address) => ({
        host: "localhost",
        port: (address as Deno.NetAddr).port,
        timeout: SETUP_TIMEOUT,
      }),
    )
  );
  assertEquals(permissions.length, 1);

  await using run = await childConnectsTo(
    { host: "localhost" },
    (address) => ({
      host: "localhost",
      port: (address as Deno.NetAddr).port,
      timeout: SETUP_TIMEOUT,
    }),
  );
  const port = run.options.port;
  const byAddress = [`--allow-net=127.0.0.1:${port}`];
  const result = await runPeer(run, byAddress);
  await run[Symbol.asyncDispose]();
  await result.counterpart?.catch(() => {});
  assertDenied(result, byAddress, `--allow-net=localhost:${port}`);
});

Deno.test("passive on all interfaces with port 0 runs with exactly --allow-net=0.0.0.0:0", async () => {
  const permissions = await assertExactPermissions(() =>
    childListens(
      { mode: "passive", timeout: SETUP_TIMEOUT },
      (address) => ({
        host: "127.0.0.1",
        port: (address as Deno.NetAddr).port,
      }),
    )
  );
  assertEquals(permissionFlags(permissions), ["--allow-net=0.0.0.0:0"]);
});

/**
 * A free port below the usual ephemeral range (32768 and up), so that no
 * outgoing connection of another process takes it before the child binds it.
 */
function fixedPort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("no free port found from 20000 to 31999");
}

Deno.test("passive on 127.0.0.1 with a fixed port runs with exactly --allow-net=127.0.0.1:<port>", async () => {
  // Another process may still take the port between the check and the bind:
  // then the child reports AddrInUse, and another port is tried.
  for (let attempt = 1;; attempt++) {
    const port = fixedPort();
    try {
      const permissions = await assertExactPermissions(() =>
        childListens(
          { mode: "passive", host: "127.0.0.1", port, timeout: SETUP_TIMEOUT },
          () => ({ host: "127.0.0.1", port }),
        )
      );
      assertEquals(permissionFlags(permissions), [
        `--allow-net=127.0.0.1:${port}`,
      ]);
      return;
    } catch (error) {
      if (attempt < 3 && String(error).includes("AddrInUse")) continue;
      throw error;
    }
  }
});

Deno.test("active over a unix socket runs with exactly read, write and net unix:<path>", async () => {
  const permissions = await assertExactPermissions(async () => {
    const socket = await temporarySocketPath();
    return await childConnectsTo(
      { path: socket.path },
      () => ({ path: socket.path, timeout: SETUP_TIMEOUT }),
      socket.remove,
    );
  });
  assertEquals(permissions.map((permission) => permission.name), [
    "read",
    "write",
    "net",
  ]);
});

Deno.test("passive over a unix socket runs with exactly read, write and net unix:<path>", async () => {
  const permissions = await assertExactPermissions(async () => {
    const socket = await temporarySocketPath();
    return childListens(
      { mode: "passive", path: socket.path, timeout: SETUP_TIMEOUT },
      () => ({ path: socket.path }),
      socket.remove,
    );
  });
  assertEquals(permissions.length, 3);
});

Deno.test("passive TLS with certificate files runs with exactly net and read of both files", async () => {
  const tls = {
    certFile: `${FIXTURES}localhost.pem`,
    keyFile: `${FIXTURES}localhost.key.pem`,
  };
  const permissions = await assertExactPermissions(() =>
    childListens(
      { mode: "passive", host: "127.0.0.1", tls, timeout: SETUP_TIMEOUT },
      (address) => ({
        host: "127.0.0.1",
        port: (address as Deno.NetAddr).port,
        tls: { caCerts: [caPem] },
      }),
    )
  );
  assertEquals(permissionFlags(permissions), [
    "--allow-net=127.0.0.1:0",
    `--allow-read=${tls.certFile},${tls.keyFile}`,
  ]);
});

Deno.test("active TLS with a CA file runs with exactly net and read of the CA file", async () => {
  const caFile = `${FIXTURES}ca.pem`;
  const permissions = await assertExactPermissions(() =>
    childConnectsTo(
      { host: "127.0.0.1", tls: { cert: serverPem, key: serverKeyPem } },
      (address) => ({
        host: "127.0.0.1",
        port: (address as Deno.NetAddr).port,
        tls: { caFile },
        timeout: SETUP_TIMEOUT,
      }),
    )
  );
  assertEquals(permissionFlags(permissions).at(-1), `--allow-read=${caFile}`);
});

Deno.test("active TLS with client certificate files runs with exactly net and read of the three files", async () => {
  const tls = {
    caFile: `${FIXTURES}ca.pem`,
    certFile: `${FIXTURES}client.pem`,
    keyFile: `${FIXTURES}client.key.pem`,
  };
  const permissions = await assertExactPermissions(() =>
    childConnectsTo(
      { host: "127.0.0.1", tls: { cert: serverPem, key: serverKeyPem } },
      (address) => ({
        host: "127.0.0.1",
        port: (address as Deno.NetAddr).port,
        tls,
        timeout: SETUP_TIMEOUT,
      }),
    )
  );
  assertEquals(permissions.length, 4);
});

Deno.test("active TLS verified against the system roots needs only net: the handshake gets as far as verification", async () => {
  await using run = await childConnectsTo(
    { host: "127.0.0.1", tls: { cert: serverPem, key: serverKeyPem } },
    (address) => ({
      host: "127.0.0.1",
      port: (address as Deno.NetAddr).port,
      tls: true,
      timeout: SETUP_TIMEOUT,
    }),
  );
  const flags = permissionFlags(new Connector(run.options).permissions);
  assertEquals(flags, [`--allow-net=127.0.0.1:${run.options.port}`]);
  const result = await runPeer(run, flags);
  await run[Symbol.asyncDispose]();
  await result.counterpart?.catch(() => {});
  assertEquals(result.code, 1, result.stderr);
  assert(
    result.stderr.startsWith("InvalidData: ") &&
      result.stderr.includes("not signed by a trusted CA"),
    `expected an unknown issuer, not a denial: ${result.stderr}`,
  );
});

const SECRET = "a shared secret of 32 characters";

Deno.test("active TCP with a secret file runs with exactly net and read of the secret file", async () => {
  const directory = await Deno.makeTempDir({ prefix: "transfer_connect_" });
  try {
    const file = `${directory}/secret.txt`;
    await Deno.writeTextFile(file, `${SECRET}\n`);
    const permissions = await assertExactPermissions(() =>
      childConnectsTo(
        { host: "127.0.0.1", secret: SECRET },
        (address) => ({
          host: "127.0.0.1",
          port: (address as Deno.NetAddr).port,
          secret: { file },
          timeout: SETUP_TIMEOUT,
        }),
      )
    );
    assertEquals(permissionFlags(permissions).at(-1), `--allow-read=${file}`);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("passive with a secret in an environment variable runs with exactly net and env of the variable", async () => {
  const variable = "TRANSFER_CONNECT_TEST_SECRET";
  const permissions = await assertExactPermissions(() => ({
    ...childListens(
      {
        mode: "passive",
        host: "127.0.0.1",
        secret: { env: variable },
        timeout: SETUP_TIMEOUT,
      },
      (address) => ({
        host: "127.0.0.1",
        port: (address as Deno.NetAddr).port,
        secret: SECRET,
      }),
    ),
    env: { [variable]: SECRET },
  }));
  assertEquals(permissionFlags(permissions), [
    "--allow-net=127.0.0.1:0",
    `--allow-env=${variable}`,
  ]);
});

Deno.test("a Deploy-style TLS client runs with only --allow-net=<host>:<port>: no read, env or sys", async () => {
  for (const granted of [true, false]) {
    await using passive = new Connector({
      mode: "passive",
      host: "localhost",
      tls: { cert: serverPem, key: serverKeyPem },
      timeout: SETUP_TIMEOUT,
    });
    const { port } = await passive.listen() as Deno.NetAddr;
    const permissions = new Connector({
      host: "localhost",
      port,
      tls: { caCerts: [caPem] },
    }).permissions;
    const flags = permissionFlags(permissions);
    assertEquals(flags, [`--allow-net=localhost:${port}`]);
    const serving = passive.connect().then(answerPing);
    const result = await runScript(
      "deploy_style.ts",
      granted ? flags : [],
      ["localhost", String(port), caPem],
    );
    if (granted) {
      await assertSucceeded({ ...result, counterpart: serving }, flags);
    } else {
      passive.close();
      await serving.catch(() => {});
      assertDenied(result, [], flags[0]);
    }
  }
});

Deno.test("importing mod.ts and constructing connectors of every kind needs no permission", async () => {
  const result = await runScript("import_only.ts", [], [
    caPem,
    serverPem,
    serverKeyPem,
  ]);
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  const expected: Record<string, unknown> = {};
  for (
    const [label, options] of Object.entries(
      everyKindOfConnector({ ca: caPem, cert: serverPem, key: serverKeyPem }),
    )
  ) {
    const permissions = new Connector(options).permissions;
    expected[label] = {
      permissions,
      flags: permissionFlags(permissions),
      states: permissions.map(() => "prompt"),
    };
  }
  assertEquals(report, expected);
});

Deno.test("Connector.queryPermissions() in a scoped subprocess reports granted, prompt and denied", async () => {
  const socket = "/tmp/transfer_connect_query.sock";
  const options = JSON.stringify({ path: socket });
  const granted = await runScript("query_permissions.ts", [
    `--allow-read=${socket}`,
    `--allow-net=unix:${socket}`,
    `--deny-write=${socket}`,
  ], [options]);
  assertEquals(granted.code, 0, granted.stderr);
  assertEquals(JSON.parse(granted.stdout), [
    { flag: `--allow-read=${socket}`, state: "granted" },
    { flag: `--allow-write=${socket}`, state: "denied" },
    { flag: `--allow-net=unix:${socket}`, state: "granted" },
  ]);

  const tcp = JSON.stringify({ host: "localhost", port: 7000 });
  const byAddress = await runScript("query_permissions.ts", [
    "--allow-net=127.0.0.1:7000",
  ], [tcp]);
  assertEquals(JSON.parse(byAddress.stdout), [
    { flag: "--allow-net=localhost:7000", state: "prompt" },
  ]);
  const byName = await runScript("query_permissions.ts", [
    "--allow-net=localhost",
  ], [tcp]);
  assertEquals(JSON.parse(byName.stdout), [
    { flag: "--allow-net=localhost:7000", state: "granted" },
  ]);
});

Deno.test("requestPermissions: true without a terminal fails at once with NotCapable naming the flag", async () => {
  for (const noPrompt of [true, false]) {
    await using passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      timeout: SETUP_TIMEOUT,
    });
    const { port } = await passive.listen() as Deno.NetAddr;
    const waiting = passive.connect();
    const options = {
      host: "127.0.0.1",
      port,
      requestPermissions: true,
      timeout: SETUP_TIMEOUT,
    };
    const result = await runScript(
      "connector_peer.ts",
      [],
      [JSON.stringify(options)],
      undefined,
      { noPrompt },
    );
    passive.close();
    await waiting.catch(() => {});
    assertDenied(result, [], `--allow-net=127.0.0.1:${port}`);
  }
});

Deno.test("a connector missing several permissions names all their flags in one denial", async () => {
  const certFile = `${FIXTURES}localhost.pem`;
  const keyFile = `${FIXTURES}localhost.key.pem`;
  const options = {
    mode: "passive",
    host: "127.0.0.1",
    tls: { certFile, keyFile },
    timeout: SETUP_TIMEOUT,
  } as const;
  const result = await runScript("connector_peer.ts", [], [
    JSON.stringify(options),
  ]);
  const flags = formatPermissionFlags(new Connector(options).permissions);
  assertEquals(
    flags,
    `--allow-net=127.0.0.1:0 --allow-read=${certFile},${keyFile}`,
  );
  assertDenied(result, [], `run with ${flags}`);
});

Deno.test("docs/permissions.md holds the table that tools/permission_table.ts prints", async () => {
  const result = await runScript("../../tools/permission_table.ts", [], []);
  assertEquals(result.code, 0, result.stderr);
  const documentation = await Deno.readTextFile(`${ROOT}docs/permissions.md`);
  assertStringIncludes(documentation, result.stdout.trim());
});

Deno.test("permissionFlags() writes one flag per kind, resources comma-joined without repeats", () => {
  assertEquals(
    permissionFlags([
      { name: "write", path: "/run/a.sock" },
      { name: "read", path: "/run/a.sock" },
      { name: "net", host: "unix:/run/a.sock" },
      { name: "read", path: "/etc/ca.pem" },
      { name: "net", host: "10.0.0.2:7000" },
      { name: "env", variable: "SECRET" },
      { name: "read", path: "/etc/ca.pem" },
    ]),
    [
      "--allow-net=unix:/run/a.sock,10.0.0.2:7000",
      "--allow-read=/run/a.sock,/etc/ca.pem",
      "--allow-write=/run/a.sock",
      "--allow-env=SECRET",
    ],
  );
  assertEquals(permissionFlags([]), []);
});

Deno.test("permissionFlags() brackets IPv6 and writes unix sockets as unix:<path>", () => {
  assertEquals(
    permissionFlags(new Connector({ host: "::1", port: 7000 }).permissions),
    ["--allow-net=[::1]:7000"],
  );
  assertEquals(
    permissionFlags(new Connector({ mode: "passive", host: "::" }).permissions),
    ["--allow-net=[::]:0"],
  );
  assertEquals(
    permissionFlags(new Connector({ path: "/run/app.sock" }).permissions),
    [
      "--allow-net=unix:/run/app.sock",
      "--allow-read=/run/app.sock",
      "--allow-write=/run/app.sock",
    ],
  );
});

Deno.test("permissionFlags() widens a kind to the unscoped flag when one descriptor names no resource", () => {
  assertEquals(
    permissionFlags([
      { name: "net", host: "a:1" },
      { name: "net" },
      { name: "sys", kind: "hostname" },
      { name: "run", command: "ssh" },
      { name: "ffi", path: new URL("file:///opt/lib%20x.so") },
      { name: "import", host: "jsr.io" },
    ]),
    [
      "--allow-net",
      "--allow-sys=hostname",
      "--allow-run=ssh",
      "--allow-ffi=/opt/lib x.so",
      "--allow-import=jsr.io",
    ],
  );
});

Deno.test("formatPermissionFlags() quotes only the flags a shell would split or expand", () => {
  assertEquals(
    formatPermissionFlags([
      { name: "net", host: "127.0.0.1:7000" },
      { name: "net", host: "[::1]:7000" },
      { name: "read", path: "/etc/it's here.pem" },
      { name: "write", path: "/tmp/a.sock" },
    ]),
    `'--allow-net=127.0.0.1:7000,[::1]:7000' '--allow-read=/etc/it'\\''s here.pem' --allow-write=/tmp/a.sock`,
  );
});

Deno.test("missingPermissionError() names every resource and the flags to add", () => {
  const cause = new Error("denied");
  const error = missingPermissionError(
    new Connector({ path: "/run/app.sock" }).permissions,
    cause,
  );
  assertInstanceOf(error, Deno.errors.NotCapable);
  assertEquals(error.cause, cause);
  assertEquals(
    error.message,
    'Requires read access to "/run/app.sock", write access to "/run/app.sock", net access to "unix:/run/app.sock": run with --allow-net=unix:/run/app.sock --allow-read=/run/app.sock --allow-write=/run/app.sock',
  );
});

Deno.test({
  name:
    "queryPermissions() reports granted and prompt under Deno.test permissions",
  permissions: { net: ["127.0.0.1:7000"] },
  fn() {
    assertEquals(
      queryPermissions([
        { name: "net", host: "127.0.0.1:7000" },
        { name: "net", host: "127.0.0.1:7001" },
        { name: "read", path: "/etc/hosts" },
      ]).map(({ flag, state }) => ({ flag, state })),
      [
        { flag: "--allow-net=127.0.0.1:7000", state: "granted" },
        { flag: "--allow-net=127.0.0.1:7001", state: "prompt" },
        { flag: "--allow-read=/etc/hosts", state: "prompt" },
      ],
    );
  },
});

Deno.test({
  name:
    "explainDenial() names all missing permissions of the connector, else the resource Deno named",
  permissions: { net: ["127.0.0.1:7000"] },
  fn() {
    const denial = new Deno.errors.NotCapable(
      'Requires net access to "127.0.0.1:7001", run again with the --allow-net flag',
    );
    const missing = explainDenial([
      { name: "net", host: "127.0.0.1:7000" },
      { name: "net", host: "127.0.0.1:7001" },
      { name: "read", path: "/etc/ca.pem" },
    ], denial);
    assertEquals(
      missing.message,
      'Requires net access to "127.0.0.1:7001", read access to "/etc/ca.pem": run with --allow-net=127.0.0.1:7001 --allow-read=/etc/ca.pem',
    );
    assertEquals(missing.cause, denial);

    const elsewhere = explainDenial(
      [{ name: "net", host: "127.0.0.1:7000" }],
      denial,
    );
    assertEquals(
      elsewhere.message,
      'Requires net access to "127.0.0.1:7001": run with --allow-net=127.0.0.1:7001',
    );

    const unknown = new Deno.errors.NotCapable("something else");
    assertEquals(
      explainDenial([{ name: "net", host: "127.0.0.1:7000" }], unknown).message,
      "something else",
    );
  },
});

Deno.test({
  name:
    "assertPermissionsGranted() names every permission not granted, and passes when all are",
  permissions: { net: ["127.0.0.1:7000"], read: false },
  fn() {
    assertPermissionsGranted([{ name: "net", host: "127.0.0.1:7000" }]);
    const error = assertThrows(
      () =>
        assertPermissionsGranted([
          { name: "net", host: "127.0.0.1:7000" },
          { name: "net", host: "127.0.0.1:7001" },
          { name: "read", path: "/etc/ca.pem" },
        ]),
      Deno.errors.NotCapable,
    );
    assertEquals(
      error.message,
      'Requires net access to "127.0.0.1:7001", read access to "/etc/ca.pem": run with --allow-net=127.0.0.1:7001 --allow-read=/etc/ca.pem',
    );
  },
});

Deno.test({
  name:
    "Connector.connect() with a custom transport that reports no permissions still names the flag Deno asked for",
  permissions: { net: false },
  async fn() {
    const connector = new Connector({
      host: "127.0.0.1",
      port: 7,
      transport: {
        connect: (address) =>
          Deno.connect(address as { hostname: string; port: number }),
      },
    });
    assertEquals(connector.permissions, []);
    const error = await assertRejects(
      () => connector.connect(),
      Deno.errors.NotCapable,
    );
    assertStringIncludes(error.message, "run with --allow-net=127.0.0.1:7");
  },
});

Deno.test({
  name:
    "Connector.connect() without net permission rejects with NotCapable naming the flag, in process",
  permissions: { net: false },
  async fn() {
    const connector = new Connector({ host: "127.0.0.1", port: 7 });
    const error = await assertRejects(
      () => connector.connect(),
      Deno.errors.NotCapable,
    );
    assertStringIncludes(error.message, "--allow-net=127.0.0.1:7");
    const passive = new Connector({ mode: "passive", host: "127.0.0.1" });
    await assertRejects(
      () => passive.listen(),
      Deno.errors.NotCapable,
      "--allow-net=127.0.0.1:0",
    );
  },
});

Deno.test("explainDenial() advises any port of the host, never the port the system picked, for a listener on port 0", () => {
  const denial = new Deno.errors.NotCapable(
    'Requires net access to "127.0.0.1:42777", run again with the --allow-net flag',
  );
  const picked = explainDenial([{ name: "net", host: "127.0.0.1:0" }], denial);
  assertEquals(
    picked.message,
    'Requires net access to "127.0.0.1": run with --allow-net=127.0.0.1',
  );
  // A fixed port is advised as it is.
  const fixed = explainDenial(
    [{ name: "net", host: "127.0.0.1:7000" }],
    denial,
  );
  assertStringIncludes(fixed.message, "--allow-net=127.0.0.1:42777");
});
