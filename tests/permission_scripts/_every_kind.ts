/**
 * Connector options of every kind (modes, transports, TLS variants, a custom
 * transport), shared by `import_only.ts` and the parent test so that both
 * construct the same connectors.
 *
 * @module
 */
import type { ConnectorOptions, ConnectorTransport } from "../../mod.ts";

/** PEM texts for the TLS options given as text rather than files. */
export interface PemTexts {
  /** A CA certificate. */
  ca: string;
  /** A server certificate. */
  cert: string;
  /** The key of `cert`. */
  key: string;
}

const customTransport: ConnectorTransport = {
  connect: () => Promise.reject(new Error("not used")),
  listen: () => Promise.reject(new Error("not used")),
  permissions: (address) => [{
    name: "net",
    host: address.transport === "tcp"
      ? `proxy.example:1080`
      : `unix:${address.path}`,
  }],
};

/** Options of every kind of connector, by a short label. */
export function everyKindOfConnector(
  pem: PemTexts,
): Record<string, ConnectorOptions> {
  return {
    "active TCP by IP": { host: "10.0.0.2", port: 7000 },
    "active TCP, default host": { port: 7000 },
    "active TCP over IPv6": { host: "::1", port: 7000 },
    "active TCP, bracketed IPv6": { host: "[::1]", port: 7000 },
    "active TCP with retry, timeout and signal": {
      host: "127.0.0.1",
      port: 7000,
      retry: { attempts: 3, delay: 10 },
      timeout: 1_000,
      signal: new AbortController().signal,
    },
    "active, asking for permissions": {
      host: "127.0.0.1",
      port: 7000,
      requestPermissions: true,
    },
    "passive, defaults": { mode: "passive" },
    "passive, fixed port": { mode: "passive", host: "127.0.0.1", port: 7000 },
    "passive on IPv6": { mode: "passive", host: "::" },
    "passive with allow": {
      mode: "passive",
      host: "127.0.0.1",
      allow: ["127.0.0.0/8", "::1"],
      handshakeTimeout: 1_000,
    },
    "unix, active": { path: "/tmp/transfer-connect.sock" },
    "unix, passive, relative path": { mode: "passive", path: "peer.sock" },
    "TLS, active, system roots": { host: "example.com", port: 443, tls: true },
    "TLS, active, CA as text": {
      host: "localhost",
      port: 7000,
      tls: { caCerts: [pem.ca], hostname: "other.example" },
    },
    "TLS, active, CA file": {
      host: "localhost",
      port: 7000,
      tls: { caFile: "/etc/ssl/ca.pem" },
    },
    "TLS, active, client certificate files": {
      host: "localhost",
      port: 7000,
      tls: {
        caFile: "ca.pem",
        certFile: "client.pem",
        keyFile: "client.key.pem",
      },
    },
    "TLS, passive, certificate as text": {
      mode: "passive",
      tls: { cert: pem.cert, key: pem.key, alpnProtocols: ["x"] },
    },
    "TLS, passive, certificate files": {
      mode: "passive",
      port: 7443,
      tls: { certFile: "server.pem", keyFile: "server.key.pem" },
    },
    "secret as text": {
      host: "127.0.0.1",
      port: 7000,
      secret: "a shared secret of 32 characters",
    },
    "secret from a file": {
      mode: "passive",
      secret: { file: "/etc/transfer/secret" },
    },
    "secret from the environment, over TLS": {
      host: "localhost",
      port: 7000,
      tls: { caFile: "ca.pem" },
      secret: { env: "TRANSFER_SECRET" },
    },
    "custom transport, active": {
      host: "10.0.0.2",
      port: 7000,
      transport: customTransport,
    },
    "custom transport, passive": {
      mode: "passive",
      path: "/tmp/custom.sock",
      transport: customTransport,
    },
  };
}
