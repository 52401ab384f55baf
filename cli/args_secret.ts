/**
 * The shared-secret part of a command line: `--secret-file`, `--new-secret`
 * and the `TRANSFER_SECRET` environment variable.
 *
 * @module
 */
import type { SecretOption } from "../mod.ts";
import { type Flags, UsageError } from "./flags.ts";

/** The environment variable that holds a shared secret for the CLI. */
export const SECRET_VARIABLE = "TRANSFER_SECRET";

/** Whether `TRANSFER_SECRET` is set, as far as this process may see. */
export type SecretVariableState = "set" | "unset" | "unknown";

/** Where the CLI's secret comes from. */
export type SecretChoice = "file" | "env" | "new";

/** The secret the command line asks for. */
export interface SecretFlags {
  /** Where the secret comes from, if any. */
  secret?: SecretChoice;
  /** The connector's `secret` option (none for `--new-secret`: made later). */
  option?: SecretOption;
}

/** Reads `--secret-file` / `--new-secret`, else `TRANSFER_SECRET` when set. */
export function parseSecretFlags(
  flags: Flags,
  secretVariable: SecretVariableState,
): SecretFlags {
  const secretFile = flags.value("secret-file");
  const newSecret = flags.flag("new-secret");
  if (secretFile !== undefined && newSecret) {
    throw new UsageError("give --secret-file or --new-secret, not both");
  }
  if (secretFile !== undefined) {
    return { secret: "file", option: { file: secretFile } };
  }
  if (newSecret) return { secret: "new" };
  if (secretVariable === "set") {
    return { secret: "env", option: { env: SECRET_VARIABLE } };
  }
  return {};
}
