/**
 * The built-in dial behind {@linkcode denoTransport}: `Deno.connect` over TCP
 * or a unix socket, abortable without losing a connection that completes as
 * the abort fires, and (for a connector) answering at once when it does.
 *
 * @module
 */
import { isIPv4, isIPv6 } from "@std/net/unstable-ip";
import { closeQuietly } from "./_abort.ts";
import type { TransportAddress } from "./transport.ts";

/** Milliseconds a dial may still complete after its abort (see below). */
const DIAL_ABORT_GRACE = 50;

/**
 * Dials `address`. Deno 2.9.6 loses a connection that completes as
 * `Deno.connect()`'s signal fires: its wrapper rethrows the abort and the
 * socket stays open, out of reach. A host name widens that window to the
 * whole lookup, so a name gets no signal at all (the system ends a hopeless
 * attempt). An IP address gets a signal of its own, fired only if the dial is
 * still pending a moment after `signal`: a connection on its way arrives
 * first.
 *
 * With `answerAtOnce` (what a connector needs), the promise rejects with
 * `signal.reason` as soon as `signal` aborts, and a connection that arrives
 * afterwards is closed; one listener and one promise do both jobs.
 */
export function dialDeno(
  address: TransportAddress,
  signal: AbortSignal,
  answerAtOnce = false,
): Promise<Deno.Conn> {
  return new Promise<Deno.Conn>((resolve, reject) => {
    let dial: AbortController | undefined;
    let connecting: Promise<Deno.Conn>;
    if (address.transport !== "tcp") {
      connecting = Deno.connect({ transport: "unix", path: address.path });
    } else if (!isIPv4(address.hostname) && !isIPv6(address.hostname)) {
      connecting = Deno.connect({
        hostname: address.hostname,
        port: address.port,
      });
    } else {
      dial = new AbortController();
      const { hostname, port } = address;
      connecting = Deno.connect({ hostname, port, signal: dial.signal });
    }
    let answered = false;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      if (dial !== undefined) {
        grace = setTimeout(() => dial.abort(signal.reason), DIAL_ABORT_GRACE);
      }
      if (answerAtOnce && !answered) {
        answered = true;
        reject(signal.reason);
      }
    };
    const listening = dial !== undefined || answerAtOnce;
    if (listening) {
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort);
    }
    const release = () => {
      // Only when set: Deno 2.9.6 loads its timer module on a process's first
      // setTimeout or clearTimeout (10–15 ms), which a dial need not pay.
      if (grace !== undefined) clearTimeout(grace);
      if (listening) signal.removeEventListener("abort", onAbort);
    };
    connecting.then((conn) => {
      release();
      if (answered) return closeQuietly(conn); // nobody waits for it
      answered = true;
      resolve(conn);
    }, (error) => {
      release();
      if (answered) return;
      answered = true;
      reject(error);
    });
  });
}
