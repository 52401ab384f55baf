/**
 * The minimal raw-Deno relay the throughput benchmark compares the CLI with:
 * no connector, no options, just a read/write loop with a 256 KiB buffer.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/raw_pair.ts listen PORT > sink   # socket → stdout
 * deno run --allow-net=127.0.0.1 bench/raw_pair.ts connect PORT < source # stdin → socket
 * ```
 *
 * With `--tls DIR` (and `--allow-read=DIR`) the listener serves
 * `DIR/localhost.pem` and the client verifies it against `DIR/ca.pem`,
 * dialling with `Deno.connect` + `setNoDelay(true)` + `Deno.startTls`.
 *
 * @module
 */

const HOST = "127.0.0.1";
const BUFFER_SIZE = 256 * 1024;

interface Reader {
  read(buffer: Uint8Array): Promise<number | null>;
}
interface Writer {
  write(bytes: Uint8Array): Promise<number>;
}

async function writeAll(writer: Writer, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(bytes.subarray(written));
  }
}

async function copy(from: Reader, to: Writer): Promise<void> {
  const buffer = new Uint8Array(BUFFER_SIZE);
  for (;;) {
    const read = await from.read(buffer);
    if (read === null) return;
    await writeAll(to, buffer.subarray(0, read));
  }
}

async function receive(port: number, tlsDirectory?: string): Promise<void> {
  const listener = tlsDirectory === undefined
    ? Deno.listen({ hostname: HOST, port })
    : Deno.listenTls({
      hostname: HOST,
      port,
      cert: await Deno.readTextFile(`${tlsDirectory}/localhost.pem`),
      key: await Deno.readTextFile(`${tlsDirectory}/localhost.key.pem`),
    });
  const conn = await listener.accept();
  listener.close();
  await copy(conn, Deno.stdout);
  conn.close();
}

async function send(port: number, tlsDirectory?: string): Promise<void> {
  let conn: Deno.Conn = await Deno.connect({ hostname: HOST, port });
  if (tlsDirectory !== undefined) {
    (conn as Deno.TcpConn).setNoDelay(true);
    conn = await Deno.startTls(conn as Deno.TcpConn, {
      hostname: HOST,
      caCerts: [await Deno.readTextFile(`${tlsDirectory}/ca.pem`)],
    });
  }
  await copy(Deno.stdin, conn);
  await conn.closeWrite();
  // Wait for the receiver to close, so that nothing is cut off in flight.
  await conn.read(new Uint8Array(1)).catch(() => null);
  conn.close();
}

if (import.meta.main) {
  const [role, port, flag, tlsDirectory] = Deno.args;
  const tls = flag === "--tls" ? tlsDirectory : undefined;
  if (
    (role !== "listen" && role !== "connect") || !/^\d+$/.test(port ?? "") ||
    (flag !== undefined && tls === undefined)
  ) {
    console.error("usage: raw_pair.ts listen|connect PORT [--tls FIXTURE_DIR]");
    Deno.exit(2);
  }
  await (role === "listen" ? receive : send)(Number(port), tls);
}
