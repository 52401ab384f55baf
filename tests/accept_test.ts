/**
 * The passive side's wait as an object: its accept loop is awaited, so a
 * failure inside it ends the wait with that error and still releases the
 * listener and every candidate (nothing is left running, nothing unhandled).
 *
 * @module
 */
import { assertEquals, assertRejects } from "@std/assert";
import { acceptCounterpart } from "../_accept.ts";

Deno.test("acceptCounterpart() rejects with the error its accept-failure handler throws, after closing the listener and every peer in vetting", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let listenerClosed = 0;
  const closeListener = () => {
    if (listenerClosed++ === 0) listener.close();
  };
  let vetting!: () => void;
  const inVetting = new Promise<void>((resolve) => vetting = resolve);
  const handlerFailure = new Error("the accept-failure handler failed");
  const waiting = acceptCounterpart({
    listener,
    signal: new AbortController().signal,
    allow: undefined,
    // Never passes: reads until its connection is closed.
    vet: async (conn) => {
      vetting();
      await conn.read(new Uint8Array(1));
      throw new Error("unreachable: the peer never writes");
    },
    closeListener,
    onRejected: () => {},
    acceptError: () => {
      throw handlerFailure;
    },
  });
  const peer = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  try {
    await inVetting;
    // The next accept fails for good (the listener went away under it) and
    // the handler for that failure throws.
    closeListener();
    const error = await assertRejects(() => waiting);
    assertEquals(error, handlerFailure);
    assertEquals(listenerClosed, 2, "closeListener called by the search too");
    // The peer in vetting was closed: it reads the end of the stream.
    assertEquals(await peer.read(new Uint8Array(1)), null);
  } finally {
    peer.close();
  }
});
