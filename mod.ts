/**
 * **@transfer/connect** sets up one network connection between two parties and
 * gets out of the way: the Deno heir of Tcllib's `transfer::connect`.
 *
 * A {@linkcode Connector} is either **active** (it connects to its
 * counterpart) or **passive** (it listens, tells you the port, accepts exactly
 * one counterpart and closes the listening socket at once), over TCP, TLS or a
 * unix socket. It knows the exact Deno permissions it needs
 * ({@linkcode Connector.permissions}) and names the missing flag in every
 * denial. Importing this module needs no permission.
 *
 * @example One connection on loopback
 * ```ts
 * import { Connector } from "@transfer/connect";
 *
 * await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
 * const { port } = await passive.listen() as Deno.NetAddr;
 *
 * const active = new Connector({ host: "127.0.0.1", port, timeout: 5_000 });
 * using client = await active.connect();
 * using server = await passive.connect(); // the listener is already closed
 * ```
 *
 * @module
 */
export * from "./connect.ts";
export * from "./tls.ts";
export * from "./auth.ts";
export * from "./transport.ts";
export * from "./proxy.ts";
export * from "./address.ts";
export {
  assertPermissionsGranted,
  type ConnectorPermission,
  formatPermissionFlags,
  missingPermissionError,
  permissionFlag,
  permissionFlags,
  type PermissionReport,
  queryPermissions,
  requestPermissions,
} from "./permissions.ts";
