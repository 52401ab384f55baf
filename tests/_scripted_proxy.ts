/**
 * A scripted proxy for the hermetic proxy tests: a loopback listener that
 * runs a script on each connection, with the server's side of SOCKS5 and
 * HTTP CONNECT in small steps (so a test can split, garble or stall any of
 * them) and a relay to a real target.
 *
 * @module
 */
import { concat, readExactly, writeAll } from "./_helpers.ts";

/** One connection's script; its errors fail the test at dispose. */
export type Script = (conn: Deno.TcpConn, index: number) => Promise<void>;

/** A running scripted proxy. */
export interface ScriptedProxy extends AsyncDisposable {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** How many connections it accepted. */
  accepted(): number;
}

/** Listens on 127.0.0.1 and runs `script` on every connection. */
export function scriptedProxy(script: Script): ScriptedProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks: Promise<void>[] = [];
  const errors: unknown[] = [];
  let count = 0;
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        const index = count++;
        tasks.push(
          script(conn, index).catch((error) => {
            errors.push(error);
          }).finally(() => {
            try {
              conn.close();
            } catch {
              // The script closed it.
            }
          }),
        );
      }
    } catch {
      // Closed.
    }
  })();
  return {
    port: listener.addr.port,
    accepted: () => count,
    async [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await loop;
      await Promise.all(tasks);
      if (errors.length > 0) throw errors[0];
    },
  };
}

const decoder = new TextDecoder();

/** Reads the SOCKS5 greeting; returns the methods offered. */
export async function readGreeting(conn: Deno.Conn): Promise<number[]> {
  const [version, count] = await readExactly(conn, 2);
  if (version !== 5) throw new Error(`greeting version ${version}`);
  return [...await readExactly(conn, count)];
}

/** Reads an RFC 1929 request; returns the user name and password. */
export async function readCredentials(
  conn: Deno.Conn,
): Promise<{ username: string; password: string }> {
  const [, userLength] = await readExactly(conn, 2);
  const username = decoder.decode(await readExactly(conn, userLength));
  const [passwordLength] = await readExactly(conn, 1);
  const password = decoder.decode(await readExactly(conn, passwordLength));
  return { username, password };
}

/** A SOCKS5 CONNECT request as the proxy read it. */
export interface SocksRequest {
  /** 1 IPv4, 3 name, 4 IPv6. */
  atyp: number;
  /** The address bytes (for a name: its bytes without the length). */
  address: Uint8Array;
  /** The port. */
  port: number;
}

/** Reads a SOCKS5 request exactly. */
export async function readSocksRequest(conn: Deno.Conn): Promise<SocksRequest> {
  const [version, command, , atyp] = await readExactly(conn, 4);
  if (version !== 5 || command !== 1) {
    throw new Error(`request ${version} ${command}`);
  }
  const length = atyp === 1
    ? 4
    : atyp === 4
    ? 16
    : (await readExactly(conn, 1))[0];
  const address = await readExactly(conn, length);
  const [high, low] = await readExactly(conn, 2);
  return { atyp, address, port: high * 256 + low };
}

/** The target of a request as text: `1.2.3.4`, a name, or IPv6 groups. */
export function requestHost(request: SocksRequest): string {
  if (request.atyp === 1) return [...request.address].join(".");
  if (request.atyp === 3) return decoder.decode(request.address);
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) {
    groups.push(
      (request.address[index] * 256 + request.address[index + 1]).toString(16),
    );
  }
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** A SOCKS5 reply with reply code `code` and BND.ADDR of type `atyp`. */
export function socksReply(code: number, atyp = 1, name = "bound.example") {
  const address = atyp === 1
    ? [127, 0, 0, 1]
    : atyp === 4
    ? [...new Uint8Array(15), 1]
    : [name.length, ...new TextEncoder().encode(name)];
  return Uint8Array.of(5, code, 0, atyp, ...address, 0x1f, 0x90);
}

/** Reads an HTTP request head byte by byte, up to its blank line. */
export async function readHttpHead(conn: Deno.Conn): Promise<string> {
  const bytes: Uint8Array[] = [];
  let text = "";
  while (!text.endsWith("\r\n\r\n")) {
    const byte = await readExactly(conn, 1);
    bytes.push(byte);
    text += String.fromCharCode(byte[0]);
  }
  return decoder.decode(concat(bytes));
}

/**
 * Waits until the client at the other end of `conn` has read everything
 * sent to it: its socket's receive queue in /proc/net/tcp (or tcp6) is
 * empty. Lets a test deliver a reply in separate reads without sleeping.
 */
export async function waitConsumed(conn: Deno.TcpConn): Promise<void> {
  const client = conn.remoteAddr as Deno.NetAddr;
  const server = conn.localAddr as Deno.NetAddr;
  const hex = (port: number) =>
    port.toString(16).toUpperCase().padStart(4, "0");
  // The client's socket: local 127.0.0.1:client, remote 127.0.0.1:server.
  const key = `0100007F:${hex(client.port)} 0100007F:${hex(server.port)} `;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const table = await Deno.readTextFile("/proc/net/tcp");
    const at = table.indexOf(key);
    if (at === -1) {
      throw new Error("the client's socket is not in /proc/net/tcp");
    }
    // After the key: state, then tx_queue:rx_queue.
    const fields = table.slice(at + key.length).split(/\s+/, 2);
    if (parseInt(fields[1].split(":")[1], 16) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error("the client never read what the proxy sent");
}

/** Writes `data` one piece at a time, each read by the client on its own. */
export async function writeSplit(
  conn: Deno.TcpConn,
  data: Uint8Array,
  pieces: number[],
): Promise<void> {
  conn.setNoDelay(true);
  let offset = 0;
  for (const size of [...pieces, data.length]) {
    const end = Math.min(offset + size, data.length);
    if (end === offset) continue;
    await writeAll(conn, data.subarray(offset, end));
    await waitConsumed(conn);
    offset = end;
  }
}

/** Relays bytes both ways between the client and a real target, to the end. */
export async function relay(
  client: Deno.Conn,
  hostname: string,
  port: number,
): Promise<void> {
  using target = await Deno.connect({ hostname, port });
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const count = await from.read(buffer);
        if (count === null) break;
        await writeAll(to, buffer.subarray(0, count));
      }
      await to.closeWrite();
    } catch {
      // One side went away: the other follows when the script ends.
    }
  };
  await Promise.all([pump(client, target), pump(target, client)]);
}
