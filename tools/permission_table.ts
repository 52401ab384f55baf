/**
 * Prints docs/permissions.md's table "what you are doing → the exact flags": for each
 * use, a {@linkcode Connector} is constructed and its `permissions` are turned
 * into flags by {@linkcode formatPermissionFlags}, the helper behind every
 * denial message. Constructing connectors needs no permission, so this runs
 * with none:
 *
 * ```sh
 * deno task permissions:table
 * ```
 *
 * @module
 */
import { Connector, type ConnectorOptions } from "../mod.ts";
import { formatPermissionFlags } from "../permissions.ts";

/** One row of the table: a use and the connector options that do it. */
export interface PermissionTableRow {
  /** What you are doing, in words. */
  task: string;
  /** The options of the connector that does it. */
  options: ConnectorOptions;
}

// Placeholders that pass the PEM checks; the table shows them as `pem`.
const CERTIFICATE_TEXT =
  "-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n";
const KEY_TEXT =
  "-----BEGIN PRIVATE KEY-----\nplaceholder\n-----END PRIVATE KEY-----\n";

/** The uses docs/permissions.md lists, in order. */
export const PERMISSION_TABLE_ROWS: readonly PermissionTableRow[] = [
  {
    task: "Connect to an IP address",
    options: { host: "10.0.0.2", port: 7000 },
  },
  {
    task: "Connect to a host name (granted by name, not by its address)",
    options: { host: "files.example", port: 7000 },
  },
  {
    task: "Connect to localhost (the default host)",
    options: { port: 7000 },
  },
  {
    task: "Connect to an IPv6 address",
    options: { host: "::1", port: 7000 },
  },
  {
    task: "Wait on all IPv4 interfaces, the system picks the port",
    options: { mode: "passive" },
  },
  {
    task: "Wait on one address and a fixed port",
    options: { mode: "passive", host: "127.0.0.1", port: 7000 },
  },
  {
    task: "Wait on all IPv6 interfaces, the system picks the port",
    options: { mode: "passive", host: "::" },
  },
  {
    task: "Connect over a unix socket",
    options: { path: "/run/transfer.sock" },
  },
  {
    task: "Wait on a unix socket",
    options: { mode: "passive", path: "/run/transfer.sock" },
  },
  {
    task: "Connect with TLS, verified against the system roots",
    options: { host: "files.example", port: 443, tls: true },
  },
  {
    task: "Connect with TLS, CA given as text (Deno Deploy: network only)",
    options: {
      host: "files.example",
      port: 443,
      tls: { caCerts: [CERTIFICATE_TEXT] },
    },
  },
  {
    task: "Connect with TLS, CA read from a file",
    options: { host: "files.example", port: 443, tls: { caFile: "ca.pem" } },
  },
  {
    task: "Connect with TLS and a client certificate from files",
    options: {
      host: "files.example",
      port: 443,
      tls: {
        caFile: "ca.pem",
        certFile: "client.pem",
        keyFile: "client.key.pem",
      },
    },
  },
  {
    task: "Wait with TLS, certificate and key given as text",
    options: {
      mode: "passive",
      port: 7443,
      tls: { cert: CERTIFICATE_TEXT, key: KEY_TEXT },
    },
  },
  {
    task: "Wait with TLS, certificate and key read from files",
    options: {
      mode: "passive",
      port: 7443,
      tls: { certFile: "server.pem", keyFile: "server.key.pem" },
    },
  },
  {
    task: "Connect and prove a shared secret read from a file",
    options: { host: "10.0.0.2", port: 7000, secret: { file: "secret.txt" } },
  },
  {
    task: "Connect through a SOCKS5 proxy that looks the name up",
    options: {
      host: "files.example",
      port: 7000,
      proxy: "socks5h://10.0.0.1:1080",
    },
  },
  {
    task: "Connect through a SOCKS5 proxy, the name looked up here",
    options: {
      host: "files.example",
      port: 7000,
      proxy: "socks5://10.0.0.1:1080",
    },
  },
  {
    task: "Connect with TLS through an HTTP proxy (CONNECT)",
    options: {
      host: "files.example",
      port: 443,
      tls: true,
      proxy: "http://10.0.0.1:3128",
    },
  },
  {
    task: "Wait and check a shared secret from an environment variable",
    options: {
      mode: "passive",
      port: 7000,
      secret: { env: "TRANSFER_SECRET" },
    },
  },
];

/** Writes options the way a reader would type them: `{ host: "a", port: 1 }`. */
function formatValue(value: unknown): string {
  if (typeof value === "string") {
    return value.includes("-----BEGIN") ? "pem" : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(formatValue).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([key, item]) =>
      `${key}: ${formatValue(item)}`
    );
    return `{ ${entries.join(", ")} }`;
  }
  return String(value);
}

/**
 * The markdown table: what you are doing, the connector options, and the
 * exact `deno run` flags, computed by constructing each connector.
 *
 * @example Usage
 * ```ts
 * import { permissionTable } from "./permission_table.ts";
 * import { assertStringIncludes } from "@std/assert";
 *
 * const table = permissionTable([
 *   { task: "Connect", options: { host: "10.0.0.2", port: 7000 } },
 * ]);
 * assertStringIncludes(table, "`--allow-net=10.0.0.2:7000`");
 * ```
 *
 * @param rows The uses to list (default: {@linkcode PERMISSION_TABLE_ROWS}).
 * @returns The table, one line per row after the header, padded as
 * `deno fmt` pads it.
 */
export function permissionTable(
  rows: readonly PermissionTableRow[] = PERMISSION_TABLE_ROWS,
): string {
  const table = [
    ["What you are doing", "Connector options", "Exact flags"],
    ...rows.map(({ task, options }) => [
      task,
      `\`${formatValue(options)}\``,
      `\`${formatPermissionFlags(new Connector(options).permissions)}\``,
    ]),
  ];
  // Padded the way `deno fmt` writes markdown tables, so that it keeps them.
  const widths = table[0].map((_, column) =>
    Math.max(3, ...table.map((cells) => cells[column].length))
  );
  const line = (cells: string[]) =>
    `| ${
      cells.map((cell, column) => cell.padEnd(widths[column])).join(" | ")
    } |`;
  const [header, ...body] = table;
  return [
    line(header),
    line(widths.map((width) => "-".repeat(width))),
    ...body.map(line),
  ].join("\n");
}

if (import.meta.main) console.log(permissionTable());
