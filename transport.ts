/**
 * The socket layer under a {@linkcode Connector}: the counterpart of Tcllib's
 * `-socketcmd`. The built-in {@linkcode denoTransport} uses `Deno.connect` and
 * `Deno.listen` for TCP and unix sockets; pass your own object with the same
 * shape to route connections through something else.
 *
 * @module
 */
import { dialDeno } from "./_deno_dial.ts";

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
  /**
   * `false` when the far end closes both directions as soon as one side
   * half-closes (magic-wormhole's transit relay): the encrypted stream then
   * ends a direction with its end record alone and keeps the socket open
   * until `close()` ({@linkcode EncryptedConnOptions.halfClose}). Default
   * `true`.
   */
  halfClose?: boolean;
}

/**
 * The built-in transport: `Deno.connect` / `Deno.listen` over TCP or unix
 * sockets.
 *
 * @example Usage
 * ```ts
 * import { Connector, denoTransport } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * await using passive = new Connector({
 *   mode: "passive",
 *   host: "127.0.0.1",
 *   transport: denoTransport,
 * });
 * const address = await passive.listen() as Deno.NetAddr;
 * assertEquals(address.hostname, "127.0.0.1");
 * ```
 */
export const denoTransport: ConnectorTransport = Object.freeze({
  connect(address: TransportAddress, signal: AbortSignal): Promise<Deno.Conn> {
    // Abortable without losing a connection that completes as the abort
    // fires (Deno 2.9.6): see _deno_dial.ts.
    return dialDeno(address, signal);
  },
  listen(address: TransportAddress): Deno.Listener {
    return address.transport === "tcp"
      ? Deno.listen({ hostname: address.hostname, port: address.port })
      : Deno.listen({ transport: "unix", path: address.path });
  },
});
