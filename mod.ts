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
 * import { assertEquals } from "@std/assert";
 *
 * await using passive = new Connector({ mode: "passive", host: "127.0.0.1" });
 * const { port } = await passive.listen() as Deno.NetAddr;
 *
 * const active = new Connector({ host: "127.0.0.1", port, timeout: 5_000 });
 * using client = await active.connect();
 * using server = await passive.connect(); // the listener is already closed
 *
 * await client.write(new TextEncoder().encode("hi"));
 * const received = new Uint8Array(2);
 * assertEquals(await server.read(received), 2);
 * assertEquals(new TextDecoder().decode(received), "hi");
 * ```
 *
 * @module
 */
export {
  Connector,
  type ConnectorMode,
  type ConnectorOptions,
  type RejectedPeer,
  type RetryOptions,
} from "./connect.ts";
export {
  readTlsFiles,
  type TlsFiles,
  type TlsMaterial,
  type TlsOptions,
} from "./tls.ts";
export {
  authenticate,
  type AuthenticateOptions,
  type AuthenticationResult,
  MAX_SECRET_FILE_SIZE,
  type SecretOption,
} from "./auth.ts";
export {
  type ConnectorTransport,
  denoTransport,
  type TransportAddress,
} from "./transport.ts";
export { formatAddr, formatHostPort } from "./address.ts";
export {
  adviceOf,
  AuthenticationError,
  ConnectorUsedError,
  EncryptionMismatchError,
  InvalidOptionError,
  NotAllowedError,
  type OptionAdvice,
  OptionRangeError,
  QueueFullError,
} from "./errors.ts";
export {
  type EncryptedByteCounts,
  EncryptedConn,
  type EncryptedConnOptions,
  type EncryptionSession,
} from "./encrypted.ts";
export {
  assertPermissionsGranted,
  type ConnectorPermission,
  formatPermissionFlags,
  permissionFlags,
  type PermissionReport,
  queryPermissions,
  requestPermissions,
} from "./permissions.ts";
export {
  type ProxyOptions,
  type ProxyScheme,
  type ProxyTransport,
  proxyTransport,
} from "./proxy.ts";
export {
  type RelayOptions,
  relayToken,
  relayTransport,
  type RelayTransportOptions,
} from "./relay.ts";
