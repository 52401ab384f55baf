/**
 * A unix socket file left behind by a listener that died: `listen --unix
 * PATH` replaces it (with a note) when no socket is bound to it, and refuses
 * a live one with an error naming the path and what to do.
 *
 * Whether a socket file is live is read from `/proc/net/unix` (Linux), which
 * lists every bound socket by path. Connecting to find out would be
 * destructive: a one-shot listener (this CLI, `nc -lU`) would take the probe
 * for its one peer.
 *
 * @module
 */
import { resolve } from "@std/path/resolve";

/** The file the kernel lists bound unix sockets in (Linux). */
export const UNIX_SOCKET_TABLE = "/proc/net/unix";

/** What {@linkcode clearStaleSocket} did. */
export type SocketFileState = "absent" | "stale-removed";

/** Paths of the unix sockets bound right now, or `undefined` when unknown. */
async function boundSocketPaths(): Promise<Set<string> | undefined> {
  const { state } = await Deno.permissions.query({
    name: "read",
    path: UNIX_SOCKET_TABLE,
  });
  if (state !== "granted") return undefined;
  try {
    const table = await Deno.readTextFile(UNIX_SOCKET_TABLE);
    const paths = new Set<string>();
    for (const line of table.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length >= 8) paths.add(fields.slice(7).join(" "));
    }
    return paths;
  } catch {
    return undefined;
  }
}

/**
 * Removes `path` when it is a socket file no socket is bound to.
 *
 * @param path The socket path `listen --unix` is about to bind.
 * @returns `"stale-removed"` when a dead socket file was removed.
 * @throws {Deno.errors.AddrInUse} When a socket is bound to it, when that
 * cannot be known, or when the path is not a socket.
 */
export async function clearStaleSocket(path: string): Promise<SocketFileState> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "absent";
    throw error;
  }
  const prefix = `Cannot listen on unix socket "${path}"`;
  if (!info.isSocket) {
    throw new Deno.errors.AddrInUse(
      `${prefix}: the path exists and is not a socket; remove it or choose another path`,
    );
  }
  const bound = await boundSocketPaths();
  if (bound === undefined) {
    throw new Deno.errors.AddrInUse(
      `${prefix}: the socket file exists; if no process listens on it any more, remove it (rm ${path}), or allow reading ${UNIX_SOCKET_TABLE} (--allow-read=${UNIX_SOCKET_TABLE}) so that a stale one is replaced`,
    );
  }
  if (bound.has(path) || bound.has(resolve(path))) {
    throw new Deno.errors.AddrInUse(
      `${prefix}: another process is listening on it; stop that process or choose another path`,
    );
  }
  await Deno.remove(path);
  return "stale-removed";
}
