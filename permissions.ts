/**
 * Deno permissions as data: turn permission descriptors into the exact
 * `deno run` flags, find out without prompting which of them are granted, and
 * build the `Deno.errors.NotCapable` error that names the missing flags.
 *
 * @module
 */

/** The descriptors this project deals in: files, network and environment. */
export type ConnectorPermission =
  | Deno.ReadPermissionDescriptor
  | Deno.WritePermissionDescriptor
  | Deno.NetPermissionDescriptor
  | Deno.EnvPermissionDescriptor;

/** A descriptor together with its state, as {@linkcode queryPermissions} reports it. */
export interface PermissionReport {
  /** The permission asked about. */
  descriptor: ConnectorPermission;
  /** `"granted"`, `"prompt"` or `"denied"`. */
  state: Deno.PermissionState;
  /** The flag that grants it, e.g. `--allow-net=127.0.0.1:7000`. */
  flag: string;
}

function resourceOf(descriptor: ConnectorPermission): string | undefined {
  switch (descriptor.name) {
    case "net":
      return descriptor.host;
    case "env":
      return descriptor.variable;
    default:
      return descriptor.path === undefined
        ? undefined
        : String(descriptor.path);
  }
}

/**
 * The `deno run` flag that grants exactly one descriptor.
 *
 * @example Usage
 * ```ts
 * import { permissionFlag } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   permissionFlag({ name: "net", host: "10.0.0.2:7000" }),
 *   "--allow-net=10.0.0.2:7000",
 * );
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
 * The exact `deno run` flags that grant a list of descriptors, one flag per
 * permission kind with its resources joined by commas, in the order
 * net, read, write, env.
 *
 * @example Usage
 * ```ts
 * import { permissionFlags } from "@transfer/connect";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   permissionFlags([
 *     { name: "net", host: "a:1" },
 *     { name: "read", path: "cert.pem" },
 *     { name: "net", host: "b:2" },
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
  const order = ["net", "read", "write", "env"] as const;
  const flags: string[] = [];
  for (const name of order) {
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

/**
 * Builds the error for missing permissions: a `Deno.errors.NotCapable` whose
 * message names each resource and the exact flags to add.
 *
 * @example Usage
 * ```ts
 * import { missingPermissionError } from "@transfer/connect";
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
    `Requires ${needs.join(", ")}: run with ${
      permissionFlags(missing).join(" ")
    }`,
    { cause },
  );
}

/**
 * Turns a permission failure into an actionable error: finds which of the
 * descriptors are not granted and names their flags. When all appear granted
 * (the failure came from elsewhere), the original error's message is kept and
 * the flags of all descriptors are named.
 */
export function explainDenial(
  descriptors: readonly ConnectorPermission[],
  cause: unknown,
): Deno.errors.NotCapable {
  const missing = queryPermissions(descriptors)
    .filter((report) => report.state !== "granted")
    .map((report) => report.descriptor);
  if (missing.length > 0) return missingPermissionError(missing, cause);
  const original = cause instanceof Error ? cause.message : String(cause);
  const flags = permissionFlags(descriptors).join(" ");
  return new Deno.errors.NotCapable(
    `${original}${flags ? `: run with ${flags}` : ""}`,
    { cause },
  );
}

/**
 * Asks the user (Deno's prompt) for each descriptor that is not yet granted.
 *
 * @throws {Deno.errors.NotCapable} Naming the flags of every permission still
 * not granted after asking.
 */
export async function requestPermissions(
  descriptors: readonly ConnectorPermission[],
): Promise<void> {
  const missing: ConnectorPermission[] = [];
  for (const descriptor of descriptors) {
    if (Deno.permissions.querySync(descriptor).state === "granted") continue;
    const status = await Deno.permissions.request(descriptor);
    if (status.state !== "granted") missing.push(descriptor);
  }
  if (missing.length > 0) throw missingPermissionError(missing);
}
