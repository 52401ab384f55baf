/**
 * The shared-secret part of a command line: `--code` (listen: make a code;
 * connect: the code), `--secret-file FILE` and `--secret-env NAME`. Nothing
 * is read from the environment unless `--secret-env` names the variable.
 *
 * @module
 */
import type { SecretOption } from "../mod.ts";
import { normalizeCode } from "./code.ts";
import { type Flags, UsageError } from "./flags.ts";

/** Where the CLI's secret comes from. */
export type SecretChoice =
  | "file"
  | "env"
  | "code"
  | "new-code"
  | "prompt-code";

/** The secret the command line asks for. */
export interface SecretFlags {
  /** Where the secret comes from, if any. */
  secret?: SecretChoice;
  /** The flag as the user typed it (`--secret-file`), for messages. */
  flag?: string;
  /** The connector's `secret` option (none for `listen --code`: made later). */
  option?: SecretOption;
}

const SECRET_FLAGS = ["code", "secret-file", "secret-env"] as const;

/** Reads `--code`, `--secret-file` and `--secret-env` (at most one). */
export function parseSecretFlags(flags: Flags, passive: boolean): SecretFlags {
  const given = SECRET_FLAGS.filter((name) => flags.given(name));
  if (given.length > 1) {
    throw new UsageError(
      `give one of --code, --secret-file or --secret-env, not ${
        given.map((name) => `--${name}`).join(" and ")
      }`,
    );
  }
  const code = flags.optionalValue("code");
  if (code !== undefined) {
    if (passive) {
      if (code !== true) {
        throw new UsageError(
          `listen --code makes the code itself and takes no value, got ${
            JSON.stringify(code)
          }; to choose the port, put it first: listen 9000 --code`,
        );
      }
      return { secret: "new-code", flag: "--code" };
    }
    // Asked for on the terminal: never in argv, where `ps` shows it.
    if (code === true) return { secret: "prompt-code", flag: "--code" };
    return { secret: "code", flag: "--code", option: normalizeCode(code) };
  }
  const file = flags.value("secret-file");
  if (file !== undefined) {
    return { secret: "file", flag: "--secret-file", option: { file } };
  }
  const variable = flags.value("secret-env");
  if (variable !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      throw new UsageError(
        `--secret-env expects the name of an environment variable (letters, digits, _), got ${
          JSON.stringify(variable)
        }`,
      );
    }
    return { secret: "env", flag: "--secret-env", option: { env: variable } };
  }
  return {};
}
