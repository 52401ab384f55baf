/**
 * The socket layer under a {@linkcode Connector}: the counterpart of Tcllib's
 * `-socketcmd`. The built-in {@linkcode denoTransport} uses `Deno.connect` and
 * `Deno.listen` for TCP and unix sockets; pass your own object with the same
 * shape to route connections through something else.
 *
 * @module
 */
import { isIPv4, isIPv6 } from "@std/net/unstable-ip";

/** Where to connect or listen: a TCP host and port, or a unix socket path. */
export type TransportAddress =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string };

/**
 * A socket layer: how an active connector dials and how a passive one
 * listens. Only the method for the connector's mode is required.
 */
export interface ConnectorTransport {
  /**
   * Opens a connection to `address`. Should reject with `signal.reason` when
   * `signal` aborts; the connector also stops waiting on its own and closes a
   * connection that arrives too late.
   */
  connect?(address: TransportAddress, signal: AbortSignal): Promise<Deno.Conn>;
  /** Binds a listener on `address` (port 0: the system picks). */
  listen?(address: TransportAddress): Deno.Listener | Promise<Deno.Listener>;
  /**
   * The Deno permissions this transport needs for `address`, reported by
   * `connector.permissions`. Omit it when the transport needs none.
   */
  permissions?(
    address: TransportAddress,
    mode: "active" | "passive",
  ): Deno.PermissionDescriptor[];
}

/** Milliseconds a dial may still complete after its abort (see below). */
const DIAL_ABORT_GRACE = 50;

/**
 * The built-in transport: `Deno.connect` / `Deno.listen` over TCP or unix
 * sockets.
 *
 * @example Usage
 * ```ts
 * import { Connector, denoTransport } from "@transfer/connect";
 *
 * await using passive = new Connector({
 *   mode: "passive",
 *   host: "127.0.0.1",
 *   transport: denoTransport,
 * });
 * await passive.listen();
 * ```
 */
export const denoTransport: ConnectorTransport = Object.freeze({
  connect(address: TransportAddress, signal: AbortSignal): Promise<Deno.Conn> {
    if (address.transport !== "tcp") {
      return Deno.connect({ transport: "unix", path: address.path });
    }
    // Deno 2.9.6 loses a connection that completes as Deno.connect()'s signal
    // fires: its wrapper rethrows the abort and the socket stays open, out of
    // reach. A host name widens that window to the whole lookup, so a name
    // gets no signal at all (the connector stops waiting and closes the
    // connection if it ever arrives; the system ends a hopeless attempt). An
    // IP address gets a signal of its own, fired only if the dial is still
    // pending a moment after `signal`: a connection on its way arrives first.
    const { hostname, port } = address;
    if (!isIPv4(hostname) && !isIPv6(hostname)) {
      return Deno.connect({ hostname, port });
    }
    const dial = new AbortController();
    let grace: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      grace = setTimeout(() => dial.abort(signal.reason), DIAL_ABORT_GRACE);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort);
    const connecting = Deno.connect({ hostname, port, signal: dial.signal });
    const release = () => {
      // Only when set: Deno 2.9.6 loads its timer module on a process's first
      // setTimeout or clearTimeout (10–15 ms), which a dial need not pay.
      if (grace !== undefined) clearTimeout(grace);
      signal.removeEventListener("abort", onAbort);
    };
    connecting.then(release, release);
    return connecting;
  },
  listen(address: TransportAddress): Deno.Listener {
    return address.transport === "tcp"
      ? Deno.listen({ hostname: address.hostname, port: address.port })
      : Deno.listen({ transport: "unix", path: address.path });
  },
});
