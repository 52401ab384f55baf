/**
 * Issue 21 against real proxies nobody here wrote: microsocks (SOCKS5 with
 * user and password), dante-server (danted, SOCKS5), tinyproxy (HTTP
 * CONNECT) and `ncat --proxy-type http --proxy-auth`. Each is started on a
 * free loopback port with its configuration in a temporary directory and
 * stopped at the end. Through each: the CLI with exactly the flags
 * `--permissions` prints (net access to the proxy only) and the library
 * transfer byte-exact; TLS verifies the target's name (`localhost`, looked
 * up by the proxy); a code goes through SOCKS5; retry waits through the
 * proxy; a wrong password exits 1 naming the proxy and never the password.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { Connector } from "../../mod.ts";
import { readExactly, writeAll } from "../_helpers.ts";
import {
  cli,
  CLI_PATH,
  FIXTURES,
  freePort,
  IMPORT_MAP,
  listenPort,
  type Running,
  sha256,
  sha256File,
  TLS_LISTEN,
  tool,
  workspace,
} from "./_peers.ts";

const PASSWORD = "pr0xy-Pa55word";
const CA = await Deno.readTextFile(`${FIXTURES}ca.pem`);
const LOCALHOST_TLS = {
  cert: await Deno.readTextFile(`${FIXTURES}localhost.pem`),
  key: await Deno.readTextFile(`${FIXTURES}localhost.key.pem`),
};
const SIZE = 2 * 1024 * 1024;
const encoder = new TextEncoder();

/** A real proxy, started. */
interface StartedProxy extends AsyncDisposable {
  port: number;
  /** The proxy URL for a target looked up by the proxy (or an IP target). */
  url: string;
  /** The same URL with a wrong password, when the proxy checks one. */
  wrongPassword?: string;
}

interface ProxyKind {
  name: string;
  /**
   * Whether it passes a half-close on (FIN one way, the other way open).
   * microsocks, tinyproxy and ncat close both directions when one side
   * ends its own: a TLS sender then never sees the receiver's close_notify.
   */
  halfClose: boolean;
  start(dir: string): Promise<StartedProxy>;
}

/** Stops a proxy politely (danted's children leave with their parent). */
async function stop(process: Running): Promise<void> {
  try {
    process.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  await process[Symbol.asyncDispose]();
}

async function started(
  process: Running,
  port: number,
  url: string,
  wrongPassword?: string,
): Promise<StartedProxy> {
  let exited = false;
  process.child.status.then(() => exited = true);
  try {
    await waitListeningAny(port, () => exited);
  } catch (error) {
    await stop(process);
    throw new Error(`${(error as Error).message}; stderr: ${process.stderr}`);
  }
  return {
    port,
    url,
    wrongPassword,
    [Symbol.asyncDispose]: () => stop(process),
  };
}

/**
 * Starts a proxy on a fresh port, again on another port if it quits at once
 * (danted binds without SO_REUSEADDR: a port a moment ago in TIME_WAIT, which
 * `freePort()` may return, is "in use" to it).
 */
async function startOnFreePort(
  start: (port: number) => Promise<StartedProxy>,
): Promise<StartedProxy> {
  for (let attempt = 1;; attempt++) {
    try {
      return await start(freePort());
    } catch (error) {
      if (attempt === 3 || !/exited/.test((error as Error).message)) {
        throw error;
      }
    }
  }
}

/** Waits until 127.0.0.1:`port` or 0.0.0.0:`port` listens (/proc/net/tcp). */
async function waitListeningAny(
  port: number,
  exited: () => boolean,
): Promise<void> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const wanted = [`0100007F:${hex}`, `00000000:${hex}`];
  for (let waited = 0; waited < 20_000; waited += 20) {
    const table = await Deno.readTextFile("/proc/net/tcp");
    if (
      table.split("\n").some((line) => {
        const fields = line.trim().split(/\s+/);
        return wanted.includes(fields[1]) && fields[3] === "0A";
      })
    ) return;
    if (exited()) {
      throw new Error(`the proxy exited before listening on ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** danted is in /usr/sbin, which a user's PATH may lack. */
async function dantedPath(): Promise<string> {
  try {
    await Deno.stat("/usr/sbin/danted");
    return "/usr/sbin/danted";
  } catch {
    return "danted";
  }
}

const PROXIES: ProxyKind[] = [
  {
    name: "microsocks (SOCKS5, user and password)",
    halfClose: false,
    start(_dir) {
      const port = freePort();
      const process = tool("microsocks", [
        "-i",
        "127.0.0.1",
        "-p",
        String(port),
        "-u",
        "alice",
        "-P",
        PASSWORD,
      ]);
      return started(
        process,
        port,
        `socks5h://alice:${PASSWORD}@127.0.0.1:${port}`,
        `socks5h://alice:wrong-${PASSWORD.length}@127.0.0.1:${port}`,
      );
    },
  },
  {
    name: "danted (SOCKS5)",
    halfClose: true,
    async start(dir) {
      const config = `${dir}/danted.conf`;
      // As root danted switches users and needs the two user lines; as
      // another user it runs as it is.
      const users = Deno.uid() === 0
        ? "user.privileged: root\nuser.unprivileged: nobody\n"
        : "";
      const path = await dantedPath();
      return await startOnFreePort(async (port) => {
        await Deno.writeTextFile(
          config,
          `logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: none
clientmethod: none
${users}client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }
`,
        );
        const process = tool(path, [
          "-f",
          config,
          "-p",
          `${dir}/danted.pid`,
          "-N",
          "1",
        ]);
        return await started(process, port, `socks5h://127.0.0.1:${port}`);
      });
    },
  },
  {
    name: "tinyproxy (HTTP CONNECT)",
    halfClose: false,
    async start(dir) {
      const port = freePort();
      const config = `${dir}/tinyproxy.conf`;
      await Deno.writeTextFile(
        config,
        `Port ${port}\nListen 127.0.0.1\nAllow 127.0.0.1\nMaxClients 20\nLogLevel Error\n`,
      );
      const process = tool("tinyproxy", ["-d", "-c", config]);
      return await started(process, port, `http://127.0.0.1:${port}`);
    },
  },
  {
    name: "ncat --proxy-type http (CONNECT, Basic)",
    halfClose: false,
    start(_dir) {
      const port = freePort();
      // With --proxy-type http, ncat binds 0.0.0.0 whatever address it is
      // given (and -k makes it fail): --allow keeps it to loopback clients.
      const process = tool("ncat", [
        "-l",
        "127.0.0.1",
        String(port),
        "--allow",
        "127.0.0.1",
        "--proxy-type",
        "http",
        "--proxy-auth",
        `alice:${PASSWORD}`,
      ]);
      return started(
        process,
        port,
        `http://alice:${PASSWORD}@127.0.0.1:${port}`,
        `http://alice:wrong@127.0.0.1:${port}`,
      );
    },
  },
];

/** Runs the CLI with exactly `flags` as its Deno permissions. */
function cliWith(flags: string[], args: string[], stdin?: string): Running {
  return tool(Deno.execPath(), [
    "run",
    "--no-prompt",
    `--import-map=${IMPORT_MAP}`,
    ...flags,
    CLI_PATH,
    ...args,
  ], stdin);
}

for (const kind of PROXIES) {
  Deno.test(`peers: through ${kind.name}, the CLI run with exactly --allow-net=PROXY sends stdin byte-exact, exit 0`, async () => {
    await using space = await workspace(SIZE);
    await using proxy = await kind.start(space.dir);
    const out = `${space.dir}/out.bin`;
    await using receiver = cli([
      "listen",
      "--host",
      "127.0.0.1",
      "--recv",
      out,
    ]);
    const port = await listenPort(receiver);
    const args = [
      "connect",
      "127.0.0.1",
      String(port),
      "--proxy",
      proxy.url,
    ];
    const asked = await cli([...args, "--permissions"]).finished();
    assertEquals(asked.code, 0, asked.stderr);
    assertEquals(asked.stdout, `--allow-net=127.0.0.1:${proxy.port}\n`);
    assert(!asked.stdout.includes(PASSWORD));
    const sent = await cliWith(
      [asked.stdout.trim()],
      args,
      space.data, // stdin
    ).finished();
    assertEquals(sent.code, 0, sent.stderr);
    const received = await receiver.finished();
    assertEquals(received.code, 0, received.stderr);
    assertEquals(await sha256File(out), space.sha);
  });

  Deno.test(`peers: through ${kind.name}, two CLIs with a secret move a file encrypted and confirmed, exit 0 on both sides, the sender with exactly the flags it asks for`, async () => {
    await using space = await workspace(SIZE);
    await using proxy = await kind.start(space.dir);
    const out = `${space.dir}/out.bin`;
    const secretFile = `${space.dir}/secret.txt`;
    await Deno.writeTextFile(secretFile, "42-apple-cabin-stone-quiet\n");
    await using receiver = cli([
      "listen",
      "--host",
      "127.0.0.1",
      "--secret-file",
      secretFile,
      "--recv",
      out,
    ]);
    const port = await listenPort(receiver);
    const args = [
      "connect",
      "127.0.0.1",
      String(port),
      "--proxy",
      proxy.url,
      "--secret-file",
      secretFile,
      "--send",
      space.data,
    ];
    const asked = await cli([...args, "--permissions"]).finished();
    assertEquals(asked.code, 0, asked.stderr);
    assert(
      asked.stdout.startsWith(`--allow-net=127.0.0.1:${proxy.port} `),
      asked.stdout,
    );
    // The proxy ends both directions when one side half-closes (all but
    // danted): each direction ends with its authenticated end record alone,
    // and the confirmation still comes back through it.
    const sent = await cliWith(asked.stdout.trim().split(" "), args)
      .finished();
    assertEquals(sent.code, 0, sent.stderr);
    assertStringIncludes(sent.stderr, "every record authenticated");
    const received = await receiver.finished();
    assertEquals(received.code, 0, received.stderr);
    assertEquals(await sha256File(out), space.sha);
  });

  for (
    const [tls, secret] of [[false, false], [true, false], [false, true]]
  ) {
    Deno.test(
      `peers: through ${kind.name}, the library${
        tls ? " over TLS verifying the name localhost" : ""
      }${
        secret ? " with a code (CPace)" : ""
      } moves bytes both ways byte-exact`,
      async () => {
        const dir = await Deno.makeTempDir({ prefix: "connect_proxy_" });
        try {
          await using proxy = await kind.start(dir);
          await using passive = new Connector({
            mode: "passive",
            host: "127.0.0.1",
            tls: tls ? LOCALHOST_TLS : undefined,
            secret: secret ? "42-apple-river-stone-quick" : undefined,
          });
          const { port } = await passive.listen() as Deno.NetAddr;
          const active = new Connector({
            host: tls ? "localhost" : "127.0.0.1",
            port,
            proxy: proxy.url,
            tls: tls ? { caCerts: [CA] } : undefined,
            secret: secret ? "42-apple-river-stone-quick" : undefined,
          });
          const [client, server] = await Promise.all([
            active.connect(),
            passive.connect(),
          ]);
          using _client = client;
          using _server = server;
          assertEquals("handshake" in client, tls);
          const up = crypto.getRandomValues(new Uint8Array(60_000));
          const down = crypto.getRandomValues(new Uint8Array(50_000));
          // Fixed lengths, no half-close: not every proxy passes one on.
          const [atServer, atClient] = await Promise.all([
            exchange(server, down, up.length),
            exchange(client, up, down.length),
          ]);
          assertEquals(await sha256(atServer), await sha256(up));
          assertEquals(await sha256(atClient), await sha256(down));
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
  }

  Deno.test(
    `peers: through ${kind.name}, the CLI over TLS verifies the name localhost (looked up by the proxy)${
      kind.halfClose ? "" : "; the receiver gets every byte"
    }`,
    async () => {
      await using space = await workspace(SIZE);
      await using proxy = await kind.start(space.dir);
      const out = `${space.dir}/out.bin`;
      // Through a proxy that closes both directions when one ends, the side
      // that ends first never sees the other's close_notify: the listener
      // sends, so that the side through the proxy, which receives, gets
      // every byte and its end (microsocks, which serves the client's socket
      // first, would otherwise drop the listener's session tickets unread
      // and reset it mid-transfer).
      const listenerSends = !kind.halfClose;
      await using listener = cli([
        "listen",
        "--host",
        "127.0.0.1",
        ...TLS_LISTEN,
        ...(listenerSends ? ["--send", space.data] : ["--recv", out]),
      ]);
      const port = await listenPort(listener);
      const connecting = await cli([
        "connect",
        "localhost",
        String(port),
        "--proxy",
        proxy.url,
        "--tls",
        "--ca",
        `${FIXTURES}ca.pem`,
        ...(listenerSends ? ["--recv", out] : ["--send", space.data]),
      ]).finished();
      const listened = await listener.finished();
      const [sender, receiver] = listenerSends
        ? [listened, connecting]
        : [connecting, listened];
      assertEquals(receiver.code, 0, receiver.stderr);
      assertEquals(await sha256File(out), space.sha);
      if (kind.halfClose) {
        assertEquals(sender.code, 0, sender.stderr);
      } else {
        // The proxy closed the sender's side when the sender ended its own:
        // the receiver's close_notify never reaches it, so it cannot claim
        // delivery (exit 1), although every byte arrived.
        assertEquals(sender.code, 1, sender.stderr);
        assert(
          sender.stderr.includes("without ending its TLS stream"),
          sender.stderr,
        );
      }
      // And a name the certificate does not hold fails.
      await using again = cli(["listen", "--host", "127.0.0.1", ...TLS_LISTEN]);
      const other = await listenPort(again);
      const wrong = await cli([
        "connect",
        "localhost",
        String(other),
        "--proxy",
        proxy.url,
        "--tls",
        "--ca",
        `${FIXTURES}ca.pem`,
        "--servername",
        "other.example",
      ]).finished();
      assertEquals(wrong.code, 1);
      assert(
        wrong.stderr.includes('not valid for the name "other.example"'),
        wrong.stderr,
      );
    },
  );

  Deno.test(`peers: through ${kind.name}, --wait retries until the listener is up`, async () => {
    await using space = await workspace(64 * 1024);
    await using proxy = await kind.start(space.dir);
    const port = freePort();
    await using sender = cli([
      "connect",
      "127.0.0.1",
      String(port),
      "--proxy",
      proxy.url,
      "--wait",
      "30",
      "--send",
      space.data,
    ]);
    // One attempt went through the proxy and failed before the listener is up.
    await waitForClosedConnection(proxy.port);
    const out = `${space.dir}/out.bin`;
    await using receiver = cli([
      "listen",
      String(port),
      "--host",
      "127.0.0.1",
      "--recv",
      out,
    ]);
    const sent = await sender.finished();
    assertEquals(sent.code, 0, sent.stderr);
    assertEquals((await receiver.finished()).code, 0);
    assertEquals(await sha256File(out), space.sha);
  });

  Deno.test(`peers: through ${kind.name}, a target that refuses is ConnectionRefused naming the proxy`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "connect_proxy_" });
    try {
      await using proxy = await kind.start(dir);
      const port = freePort();
      const error = await assertRejects(
        () =>
          new Connector({ host: "127.0.0.1", port, proxy: proxy.url })
            .connect(),
        Deno.errors.ConnectionRefused,
      );
      assert(
        error.message.includes(`proxy 127.0.0.1:${proxy.port}`),
        error.message,
      );
      assert(!error.message.includes(PASSWORD));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/**
 * Waits until a connection to or from `port` on 127.0.0.1 has closed (a
 * TIME_WAIT entry in /proc/net/tcp): the proxy has handled an attempt.
 */
async function waitForClosedConnection(port: number): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (let waited = 0; waited < 20_000; waited += 20) {
    const table = await Deno.readTextFile("/proc/net/tcp");
    if (
      table.split("\n").some((line) => {
        const fields = line.trim().split(/\s+/);
        return fields[3] === "06" &&
          (fields[1]?.endsWith(hex) || fields[2]?.endsWith(hex));
      })
    ) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no connection through 127.0.0.1:${port} ended`);
}

/** Writes `data` and reads `expected` bytes from the peer, at the same time. */
async function exchange(
  conn: Deno.Conn,
  data: Uint8Array,
  expected: number,
): Promise<Uint8Array> {
  const writing = writeAll(conn, data);
  const received = await readExactly(conn, expected);
  await writing;
  return received;
}

// A code through SOCKS5 with the proxy that passes a half-close on: the
// CLI's delivery confirmation ends its side before the peer's answer
// arrives, which microsocks cuts off (see docs/proxy.md).
for (const kind of PROXIES.filter((proxy) => proxy.name.startsWith("danted"))) {
  Deno.test(`peers: through ${kind.name}, a code (CPace) carries the transfer`, async () => {
    await using space = await workspace(SIZE);
    await using proxy = await kind.start(space.dir);
    const out = `${space.dir}/out.bin`;
    await using receiver = cli([
      "listen",
      "--host",
      "127.0.0.1",
      "--code",
      "--recv",
      out,
    ]);
    const code = await receiver.waitForStderr(/code: (\S+)\n/);
    const port = await listenPort(receiver);
    const sent = await cli([
      "connect",
      "127.0.0.1",
      String(port),
      "--proxy",
      proxy.url,
      "--code",
      code,
      "--send",
      space.data,
    ]).finished();
    assertEquals(sent.code, 0, sent.stderr);
    assertEquals((await receiver.finished()).code, 0);
    assertEquals(await sha256File(out), space.sha);
  });
}

for (
  const kind of PROXIES.filter((proxy) => proxy.name.match(/microsocks|ncat/))
) {
  Deno.test(`peers: through ${kind.name}, a wrong password exits 1 naming the proxy, never the password`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "connect_proxy_" });
    try {
      await using proxy = await kind.start(dir);
      await using receiver = cli(["listen", "--host", "127.0.0.1"]);
      const port = await listenPort(receiver);
      const result = await cli([
        "connect",
        "127.0.0.1",
        String(port),
        "--proxy",
        proxy.wrongPassword!,
      ]).finished();
      assertEquals(result.code, 1, result.stderr);
      assert(
        result.stderr.includes(`proxy 127.0.0.1:${proxy.port}`),
        result.stderr,
      );
      assert(/rejected|authentication/.test(result.stderr), result.stderr);
      assert(!result.stderr.includes(PASSWORD));
      assert(!result.stderr.includes("wrong"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("peers: through ncat --proxy-type http, the target's first bytes (delivered with the proxy's reply) reach the caller", async () => {
  const dir = await Deno.makeTempDir({ prefix: "connect_proxy_" });
  try {
    await using proxy = await PROXIES.find((proxy) =>
      proxy.name.startsWith("ncat")
    )!
      .start(dir);
    await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
    const { port } = await passive.listen() as Deno.NetAddr;
    const accepted = passive.connect().then(async (server) => {
      await server.write(encoder.encode("greeting from the target\n"));
      return server;
    });
    using client = await new Connector({
      host: "127.0.0.1",
      port,
      proxy: proxy.url,
    })
      .connect();
    using _server = await accepted;
    assert("setNoDelay" in client, "the real TcpConn");
    const text = new Uint8Array(25);
    let filled = 0;
    while (filled < text.length) {
      const count = await client.read(text.subarray(filled));
      if (count === null) break;
      filled += count;
    }
    assertEquals(new TextDecoder().decode(text), "greeting from the target\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
