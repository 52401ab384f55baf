/**
 * The heir against its ancestor: Tcllib's own `transfer::connect` (Debian's
 * `tcllib`, run by `tclsh`) as the counterpart of the Connector and of the
 * CLI, in both modes, byte-exact by SHA-256 over loopback.
 *
 * @module
 */
import { assertEquals, assertRejects } from "@std/assert";
import { Connector } from "../../mod.ts";
import { readToEnd, writeAll } from "../_helpers.ts";
import {
  cli,
  listenPort,
  type Running,
  sha256,
  sha256File,
  tool,
  workspace,
} from "./_peers.ts";

const SIZE = 4 * 1024 * 1024;

/**
 * A Tcllib `transfer::connect` object: `passive` listens on a port the
 * system picks (printed as `port N` on stderr) and sends `file` to the first
 * peer; `active` connects to `port` and writes what it receives to `file`.
 * Both close the socket when done, as a Tcllib application does.
 */
const TCL_SCRIPT = `
package require transfer::connect
lassign $argv mode file port
proc connected {object sock} {
  fconfigure $sock -translation binary
  if {$::mode eq "passive"} {
    set channel [open $::file rb]
    fcopy $channel $sock
  } else {
    set channel [open $::file wb]
    fcopy $sock $channel
  }
  close $channel
  close $sock
  set ::done 1
}
if {$mode eq "passive"} {
  transfer::connect tc -mode passive -port 0
  puts stderr "port [tc connect connected]"
} else {
  transfer::connect tc -mode active -host 127.0.0.1 -port $port
  tc connect connected
}
vwait done
`;

async function tcl(
  dir: string,
  mode: "active" | "passive",
  file: string,
  port = 0,
): Promise<Running> {
  const script = `${dir}/transfer.tcl`;
  await Deno.writeTextFile(script, TCL_SCRIPT);
  return tool("tclsh", [script, mode, file, String(port)]);
}

async function tclPort(process: Running): Promise<number> {
  return Number(await process.waitForStderr(/port (\d+)\n/));
}

Deno.test("peers: Connector.connect() in active mode receives a Tcllib passive transfer::connect sender's file byte-exact; Tcllib's listener is closed after that first peer", async () => {
  await using space = await workspace(SIZE);
  await using sender = await tcl(space.dir, "passive", space.data);
  const port = await tclPort(sender);
  using conn = await new Connector({ host: "127.0.0.1", port, timeout: 20_000 })
    .connect();
  // Tcllib closes its listener in its accept handler, before the callback
  // that sends: once bytes arrived, a second peer must be refused. (Dialled
  // before that, it could still land in the listener's backlog.)
  const received = await readToEnd(conn);
  await assertRejects(
    () => new Connector({ host: "127.0.0.1", port, timeout: 5_000 }).connect(),
    Deno.errors.ConnectionRefused,
  );
  assertEquals(await sha256(received), space.sha);
  assertEquals((await sender.finished()).code, 0);
});

Deno.test("peers: Connector.connect() in passive mode takes a Tcllib active transfer::connect peer, and what the Connector's side sends arrives in Tcl's file byte-exact", async () => {
  await using space = await workspace(SIZE);
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    timeout: 20_000,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  const out = `${space.dir}/out.bin`;
  await using receiver = await tcl(space.dir, "active", out, port);
  using conn = await waiting;
  const data = await Deno.readFile(space.data);
  await writeAll(conn, data);
  conn.closeWrite();
  assertEquals(await readToEnd(conn), new Uint8Array(0));
  assertEquals((await receiver.finished()).code, 0);
  assertEquals(await sha256File(out), space.sha);
});

Deno.test("peers: connect --recv-only from a Tcllib passive sender: exit 0 and every byte in the file", async () => {
  await using space = await workspace(SIZE);
  await using sender = await tcl(space.dir, "passive", space.data);
  const port = await tclPort(sender);
  const out = `${space.dir}/out.bin`;
  await using receiver = cli([
    "connect",
    "127.0.0.1",
    String(port),
    "--recv-only",
    "--recv",
    out,
  ]);
  const result = await receiver.finished();
  assertEquals(result.code, 0, result.stderr);
  assertEquals(await sha256File(out), space.sha);
});

Deno.test("peers: listen --send to a Tcllib active receiver: exit 0 and every byte in Tcl's file", async () => {
  await using space = await workspace(SIZE);
  await using sender = cli([
    "listen",
    "--host",
    "127.0.0.1",
    "--send",
    space.data,
  ]);
  const port = await listenPort(sender);
  const out = `${space.dir}/out.bin`;
  await using receiver = await tcl(space.dir, "active", out, port);
  const result = await sender.finished();
  assertEquals(result.code, 0, result.stderr);
  assertEquals((await receiver.finished()).code, 0);
  assertEquals(await sha256File(out), space.sha);
});
