/**
 * The minimal raw-Deno relay the throughput benchmark compares the CLI with:
 * no connector, no options, just a read/write loop with a 256 KiB buffer.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/raw_pair.ts listen PORT > sink   # socket → stdout
 * deno run --allow-net=127.0.0.1 bench/raw_pair.ts connect PORT < source # stdin → socket
 * ```
 *
 * Options, after the port:
 * - `--tls DIR` (with `--allow-read=DIR`): the listener serves
 *   `DIR/localhost.pem`; the client verifies it against `DIR/ca.pem`, dialling
 *   with `Deno.connect` + `setNoDelay(true)` + `Deno.startTls`.
 * - `--sync-stdio`: read stdin with `Deno.stdin.readSync` and write stdout
 *   with `Deno.stdout.writeSync`. Deno's async stdio runs every call on a
 *   blocking thread (and `Deno.stdin.read` duplicates and closes the file
 *   descriptor each time); the sync calls are one system call each, at the
 *   price of blocking the event loop while the pipe is empty or full.
 * - `--secret`: after connecting, both sides run the CPace exchange with a
 *   fixed benchmark secret and copy over the {@linkcode EncryptedConn}
 *   (AES-256-GCM records): the encrypted stream without the CLI's delivery
 *   confirmation, the baseline of "a confirmed transfer with a code".
 *
 * @module
 */
import { authenticate, EncryptedConn } from "../mod.ts";
import { type Reader, writeAll, type Writer } from "../_io.ts";

/** The secret of `--secret` (a benchmark needs no secrecy). */
const BENCH_SECRET = new TextEncoder().encode("00-bench-bench-bench-bench");

/** Runs the exchange and wraps `conn` in the encrypted stream. */
async function encrypt(
  conn: Deno.Conn,
  role: "active" | "passive",
): Promise<Deno.Conn> {
  const result = await authenticate(conn, {
    role,
    secret: BENCH_SECRET,
    signal: AbortSignal.timeout(10_000),
    encrypt: true,
  });
  return await EncryptedConn.create(conn, { role, ...result });
}

const HOST = "127.0.0.1";
const BUFFER_SIZE = 256 * 1024;

/** Deno.stdin / Deno.stdout through their synchronous calls. */
const syncStdin: Reader = {
  read: (buffer) => Promise.resolve(Deno.stdin.readSync(buffer)),
};
const syncStdout: Writer = {
  write: (bytes) => Promise.resolve(Deno.stdout.writeSync(bytes)),
};

async function copy(from: Reader, to: Writer): Promise<void> {
  const buffer = new Uint8Array(BUFFER_SIZE);
  for (;;) {
    const read = await from.read(buffer);
    if (read === null) return;
    await writeAll(to, buffer.subarray(0, read));
  }
}

interface Options {
  port: number;
  tlsDirectory?: string;
  syncStdio: boolean;
  secret: boolean;
}

async function receive(options: Options): Promise<void> {
  const { port, tlsDirectory } = options;
  const listener = tlsDirectory === undefined
    ? Deno.listen({ hostname: HOST, port })
    : Deno.listenTls({
      hostname: HOST,
      port,
      cert: await Deno.readTextFile(`${tlsDirectory}/localhost.pem`),
      key: await Deno.readTextFile(`${tlsDirectory}/localhost.key.pem`),
    });
  let conn: Deno.Conn = await listener.accept();
  listener.close();
  if (options.secret) conn = await encrypt(conn, "passive");
  await copy(conn, options.syncStdio ? syncStdout : Deno.stdout);
  conn.close();
}

async function send(options: Options): Promise<void> {
  const { port, tlsDirectory } = options;
  let conn: Deno.Conn = await Deno.connect({ hostname: HOST, port });
  if (tlsDirectory !== undefined) {
    (conn as Deno.TcpConn).setNoDelay(true);
    conn = await Deno.startTls(conn as Deno.TcpConn, {
      hostname: HOST,
      caCerts: [await Deno.readTextFile(`${tlsDirectory}/ca.pem`)],
    });
  }
  if (options.secret) conn = await encrypt(conn, "active");
  await copy(options.syncStdio ? syncStdin : Deno.stdin, conn);
  await conn.closeWrite();
  // Wait for the receiver to close, so that nothing is cut off in flight.
  await conn.read(new Uint8Array(1)).catch(() => null);
  conn.close();
}

function parse(args: string[]): ["listen" | "connect", Options] | undefined {
  const [role, port, ...rest] = args;
  if (role !== "listen" && role !== "connect") return undefined;
  if (!/^\d+$/.test(port ?? "")) return undefined;
  const options: Options = {
    port: Number(port),
    syncStdio: false,
    secret: false,
  };
  while (rest.length > 0) {
    const flag = rest.shift();
    if (flag === "--sync-stdio") {
      options.syncStdio = true;
    } else if (flag === "--secret") {
      options.secret = true;
    } else if (flag === "--tls" && rest.length > 0) {
      options.tlsDirectory = rest.shift();
    } else {
      return undefined;
    }
  }
  return [role, options];
}

if (import.meta.main) {
  const parsed = parse(Deno.args);
  if (parsed === undefined) {
    console.error(
      "usage: raw_pair.ts listen|connect PORT [--tls FIXTURE_DIR] [--sync-stdio] [--secret]",
    );
    Deno.exit(2);
  }
  const [role, options] = parsed;
  await (role === "listen" ? receive : send)(options);
}
