/**
 * Deno permissions as data: turn permission descriptors into the exact
 * `deno run` flags, find out without prompting which of them are granted, and
 * build the `Deno.errors.NotCapable` error that names the missing flags.
 *
 * @example Usage
 * ```ts
 * import { Connector, permissionFlags } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * const connector = new Connector({ host: "10.0.0.2", port: 7000 });
 * assertEquals(permissionFlags(connector.permissions), [
 *   "--allow-net=10.0.0.2:7000",
 * ]);
 * ```
 *
 * @module
 */

/**
 * A Deno permission descriptor. A connector itself needs `net`, `read` and
 * `write` (and `env` for a secret read from the environment); a custom
 * transport may report any other kind.
 */
export type ConnectorPermission = Deno.PermissionDescriptor;

/** A descriptor together with its state, as {@linkcode queryPermissions} reports it. */
export interface PermissionReport {
  /** The permission asked about. */
  descriptor: ConnectorPermission;
  /** `"granted"`, `"prompt"` or `"denied"`. */
  state: Deno.PermissionState;
  /** The flag that grants it, e.g. `--allow-net=127.0.0.1:7000`. */
  flag: string;
}

/** The permission kinds in the order their flags are listed. */
const FLAG_ORDER = [
  "net",
  "read",
  "write",
  "env",
  "sys",
  "run",
  "ffi",
  "import",
] as const;

function pathText(path: string | URL): string {
  if (path instanceof URL) {
    return path.protocol === "file:"
      ? decodeURIComponent(path.pathname)
      : path.href;
  }
  return path;
}

/** The resource a descriptor is scoped to, as written in a flag. */
function resourceOf(descriptor: ConnectorPermission): string | undefined {
  switch (descriptor.name) {
    case "net":
    case "import":
      return descriptor.host;
    case "env":
      return descriptor.variable;
    case "sys":
      return descriptor.kind;
    case "run":
      return descriptor.command === undefined
        ? undefined
        : pathText(descriptor.command);
    case "read":
    case "write":
    case "ffi":
      return descriptor.path === undefined
        ? undefined
        : pathText(descriptor.path);
  }
}

/**
 * The `deno run` flag that grants exactly one descriptor: `--allow-<name>`
 * scoped to its resource, or unscoped when the descriptor names none.
 *
 * @example Usage
 * ```ts
 * import { permissionFlag } from "./permissions.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   permissionFlag({ name: "net", host: "10.0.0.2:7000" }),
 *   "--allow-net=10.0.0.2:7000",
 * );
 * assertEquals(permissionFlag({ name: "env" }), "--allow-env");
 * ```
 *
 * @param descriptor The permission to grant.
 * @returns A flag such as `--allow-read=cert.pem`.
 */
export function permissionFlag(descriptor: ConnectorPermission): string {
  const resource = resourceOf(descriptor);
  return resource === undefined
    ? `--allow-${descriptor.name}`
    : `--allow-${descriptor.name}=${resource}`;
}

/**
 * The exact `deno run` flags that grant a list of descriptors: one flag per
 * permission kind, its resources joined by commas without repeats, in the
 * order net, read, write, env, sys, run, ffi, import. A kind asked for
 * without a resource gets the unscoped flag. The flags are arguments, ready
 * for `Deno.Command`; {@linkcode formatPermissionFlags} quotes them for a
 * shell.
 *
 * Deno's flags cannot express a resource that contains a comma: grant such a
 * path through a parent directory.
 *
 * @example Usage
 * ```ts
 * import { permissionFlags } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   permissionFlags([
 *     { name: "read", path: "cert.pem" },
 *     { name: "net", host: "a:1" },
 *     { name: "net", host: "b:2" },
 *     { name: "net", host: "a:1" },
 *   ]),
 *   ["--allow-net=a:1,b:2", "--allow-read=cert.pem"],
 * );
 * ```
 *
 * @param descriptors The permissions to grant.
 * @returns The flags, ready to pass to `deno run`.
 */
export function permissionFlags(
  descriptors: readonly ConnectorPermission[],
): string[] {
  const flags: string[] = [];
  for (const name of FLAG_ORDER) {
    const ofKind = descriptors.filter((descriptor) => descriptor.name === name);
    if (ofKind.length === 0) continue;
    const resources = ofKind.map(resourceOf);
    if (resources.includes(undefined)) {
      flags.push(`--allow-${name}`);
      continue;
    }
    flags.push(`--allow-${name}=${[...new Set(resources)].join(",")}`);
  }
  return flags;
}

/** Characters a POSIX shell passes through unchanged in an unquoted word. */
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * The flags of {@linkcode permissionFlags} as one shell command-line
 * fragment, each flag single-quoted when a shell would otherwise split or
 * expand it (an IPv6 address in brackets, a path with a space).
 *
 * @example Usage
 * ```ts
 * import { formatPermissionFlags } from "./permissions.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   formatPermissionFlags([
 *     { name: "net", host: "[::1]:7000" },
 *     { name: "read", path: "/etc/my certs/ca.pem" },
 *   ]),
 *   "'--allow-net=[::1]:7000' '--allow-read=/etc/my certs/ca.pem'",
 * );
 * ```
 *
 * @param descriptors The permissions to grant.
 * @returns The flags separated by spaces, e.g. `--allow-net=a:1 --allow-read=b`.
 */
export function formatPermissionFlags(
  descriptors: readonly ConnectorPermission[],
): string {
  return permissionFlags(descriptors).map((flag) =>
    SHELL_SAFE.test(flag) ? flag : `'${flag.replaceAll("'", `'\\''`)}'`
  ).join(" ");
}

/**
 * Reports, without prompting, which of the descriptors are granted.
 *
 * @example Usage
 * ```ts
 * import { queryPermissions } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * const [report] = queryPermissions([{ name: "net", host: "127.0.0.1:7000" }]);
 * assertEquals(report.flag, "--allow-net=127.0.0.1:7000");
 * ```
 *
 * @param descriptors The permissions to look up.
 * @returns One report per descriptor, in the same order.
 */
export function queryPermissions(
  descriptors: readonly ConnectorPermission[],
): PermissionReport[] {
  return descriptors.map((descriptor) => ({
    descriptor,
    state: Deno.permissions.querySync(descriptor).state,
    flag: permissionFlag(descriptor),
  }));
}

/** The descriptors that are not granted, found without prompting. */
function notGranted(
  descriptors: readonly ConnectorPermission[],
): ConnectorPermission[] {
  return descriptors.filter((descriptor) =>
    Deno.permissions.querySync(descriptor).state !== "granted"
  );
}

/**
 * Builds the error for missing permissions: a `Deno.errors.NotCapable` whose
 * message names each resource and the exact flags to add.
 *
 * @example Usage
 * ```ts
 * import { missingPermissionError } from "./permissions.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const error = missingPermissionError([{ name: "net", host: "10.0.0.2:7000" }]);
 * assertEquals(
 *   error.message,
 *   'Requires net access to "10.0.0.2:7000": run with --allow-net=10.0.0.2:7000',
 * );
 * ```
 *
 * @param missing The permissions that are not granted.
 * @param cause The original error, if Deno threw one.
 * @returns The error to throw.
 */
export function missingPermissionError(
  missing: readonly ConnectorPermission[],
  cause?: unknown,
): Deno.errors.NotCapable {
  const needs = missing.map((descriptor) => {
    const resource = resourceOf(descriptor);
    return resource === undefined
      ? `${descriptor.name} access`
      : `${descriptor.name} access to "${resource}"`;
  });
  return new Deno.errors.NotCapable(
    `Requires ${[...new Set(needs)].join(", ")}: run with ${
      formatPermissionFlags(missing)
    }`,
    { cause },
  );
}

/** The descriptor Deno names in a denial ("Requires net access to "h:1", …"). */
function deniedDescriptor(cause: unknown): ConnectorPermission | undefined {
  if (!(cause instanceof Error)) return undefined;
  const match = /Requires (\w+) access to "([^"]*)"/.exec(cause.message);
  if (match === null) return undefined;
  const [, name, resource] = match;
  switch (name) {
    case "net":
    case "import":
      return { name, host: resource };
    case "read":
    case "write":
    case "ffi":
      return { name, path: resource };
    case "env":
      return { name, variable: resource };
    case "run":
      return { name, command: resource };
    case "sys":
      return { name, kind: resource as Deno.SysPermissionDescriptor["kind"] };
    default:
      return undefined;
  }
}

/**
 * A denial of `host:port` where `descriptors` asked for `host:0` (a port the
 * system picks) is advised as `host`, any port: the port Deno names changes
 * with every run, so advice naming it could never be followed.
 */
function anyPortOf(
  denied: ConnectorPermission,
  descriptors: readonly ConnectorPermission[],
): ConnectorPermission {
  if (denied.name !== "net" || denied.host === undefined) return denied;
  const host = denied.host.replace(/:\d+$/, "");
  const picked = descriptors.some((descriptor) =>
    descriptor.name === "net" && descriptor.host === `${host}:0`
  );
  return picked ? { name: "net", host } : denied;
}

/**
 * Turns a permission failure into an actionable error. It names every one of
 * `descriptors` that is not granted, so that a single run tells the user all
 * the flags to add. When all of them are granted (the denial came from
 * elsewhere), it names the resource Deno reported, or keeps Deno's message
 * when it names none.
 *
 * @example Usage
 * ```ts
 * import { explainDenial } from "./permissions.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const denial = new Deno.errors.NotCapable(
 *   'Requires net access to "10.0.0.2:7000", run again with the --allow-net flag',
 * );
 * const error = explainDenial([{ name: "net", host: "10.0.0.2:7000" }], denial);
 * assertEquals(
 *   error.message,
 *   'Requires net access to "10.0.0.2:7000": run with --allow-net=10.0.0.2:7000',
 * );
 * ```
 *
 * @param descriptors Everything the failed operation needs.
 * @param cause What Deno threw.
 * @returns A `Deno.errors.NotCapable` naming the flags, with `cause` attached.
 */
export function explainDenial(
  descriptors: readonly ConnectorPermission[],
  cause: unknown,
): Deno.errors.NotCapable {
  const missing = notGranted(descriptors);
  if (missing.length > 0) return missingPermissionError(missing, cause);
  const denied = deniedDescriptor(cause);
  if (denied !== undefined) {
    return missingPermissionError([anyPortOf(denied, descriptors)], cause);
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new Deno.errors.NotCapable(message, { cause });
}

/**
 * Throws, without prompting, when any of the descriptors is not granted: a
 * `Deno.errors.NotCapable` naming every missing one and its flag, so that one
 * run tells the user all the flags to add.
 *
 * @example Usage
 * ```ts
 * import { assertPermissionsGranted } from "./permissions.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const needed = { name: "net", host: "10.0.0.2:7000" } as const;
 * if (Deno.permissions.querySync(needed).state === "granted") {
 *   assertPermissionsGranted([needed]); // returns: connect() may go ahead
 * } else {
 *   assertThrows(
 *     () => assertPermissionsGranted([needed]),
 *     Deno.errors.NotCapable,
 *     "run with --allow-net=10.0.0.2:7000",
 *   );
 * }
 * ```
 *
 * @param descriptors The permissions needed.
 * @throws {Deno.errors.NotCapable} Naming the flags of every permission not
 * granted.
 */
export function assertPermissionsGranted(
  descriptors: readonly ConnectorPermission[],
): void {
  const missing = notGranted(descriptors);
  if (missing.length > 0) throw missingPermissionError(missing);
}

/**
 * Asks the user (Deno's prompt) for each descriptor that is not yet granted.
 * Without a terminal, or under `--no-prompt`, Deno answers "denied" at once.
 *
 * @example Usage
 * ```ts ignore
 * import { requestPermissions } from "@transfer/connect";
 *
 * await requestPermissions([{ name: "net", host: "10.0.0.2:7000" }]);
 * ```
 *
 * @param descriptors The permissions needed.
 * @throws {Deno.errors.NotCapable} Naming the flags of every permission still
 * not granted after asking.
 */
export async function requestPermissions(
  descriptors: readonly ConnectorPermission[],
): Promise<void> {
  const missing: ConnectorPermission[] = [];
  for (const descriptor of notGranted(descriptors)) {
    const status = await Deno.permissions.request(descriptor);
    if (status.state !== "granted") missing.push(descriptor);
  }
  if (missing.length > 0) throw missingPermissionError(missing);
}
