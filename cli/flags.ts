/**
 * The CLI's flags as `@std/cli`'s `parseArgs` reads them, and the checks
 * every value goes through: each flag is declared once here, values are read
 * as strings and validated by the callers, so `--port 007`, `--timeout 1e3`
 * or `--timeout -1` never slip through as numbers.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

/** What the command line asked for is malformed: the CLI exits with code 2. */
export class UsageError extends Error {
  /**
   * @param message One line saying what was wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

const BOOLEAN_FLAGS = [
  "tls",
  "send-only",
  "recv-only",
  "json",
  "progress",
  "quiet",
  "permissions",
  "help",
  "version",
  "debug",
  "confirm",
  "no-half-close",
  "force",
] as const;
const VALUE_FLAGS = [
  "host",
  "unix",
  "ca",
  "cert",
  "key",
  "servername",
  "timeout",
  "send",
  "recv",
  "retry",
  "wait",
  "secret-file",
  "secret-env",
  "relay",
  "proxy",
  "proxy-password-env",
] as const;
const REPEATABLE_FLAGS = ["allow", "alpn"] as const;
/** Flags whose value may be left out (`listen --code`, `connect --code CODE`). */
const OPTIONAL_VALUE_FLAGS = ["code"] as const;

/** A flag that is on or off. */
export type BooleanFlag = typeof BOOLEAN_FLAGS[number];
/** A flag that takes one value. */
export type ValueFlag = typeof VALUE_FLAGS[number];
/** A flag that may be given several times. */
export type RepeatableFlag = typeof REPEATABLE_FLAGS[number];
/** A flag given with or without a value. */
export type OptionalValueFlag = typeof OPTIONAL_VALUE_FLAGS[number];

const MAX_SECONDS = 2_147_483;

/** The flags of one command line, read with their checks. */
export interface Flags {
  /** The words that are not flags, in order (`--` ends the flags). */
  positionals: string[];
  /** Whether a boolean flag is on. */
  flag(name: BooleanFlag): boolean;
  /** A flag's value; a flag given without one is a {@linkcode UsageError}. */
  value(name: ValueFlag): string | undefined;
  /** Every value of a repeatable flag (none: an empty list). */
  values(name: RepeatableFlag): string[];
  /** A flag's value, `true` when given without one, `undefined` when absent. */
  optionalValue(name: OptionalValueFlag): string | true | undefined;
  /** Whether a flag of any kind was given. */
  given(
    name: BooleanFlag | ValueFlag | RepeatableFlag | OptionalValueFlag,
  ): boolean;
}

/** `-h` or `--help`, as the user typed it. */
export function describe(flag: string): string {
  return flag.length === 1 ? `-${flag}` : `--${flag}`;
}

/**
 * `parseArgs` reads `--tls false` and `--tls=false` as off and any other
 * `--tls=VALUE` as on (`-h=1` even as the number 1): only `true` and `false`
 * are accepted as a boolean's value, anything else is a usage error.
 */
function checkBooleanValues(
  flagArgs: readonly string[],
  parsed: Record<string, unknown>,
): void {
  for (const arg of flagArgs) {
    const inline = /^--([^=]+)=([\s\S]*)$/.exec(arg);
    if (
      inline !== null &&
      (BOOLEAN_FLAGS as readonly string[]).includes(inline[1]) &&
      inline[2] !== "true" && inline[2] !== "false"
    ) {
      throw new UsageError(
        `--${inline[1]} takes no value (or true/false), got ${
          JSON.stringify(arg)
        }`,
      );
    }
  }
  for (const name of BOOLEAN_FLAGS) {
    if (typeof parsed[name] !== "boolean") {
      throw new UsageError(
        `${name === "help" ? "-h/--help" : describe(name)} takes no value`,
      );
    }
  }
}

/**
 * Reads the flags of a command line; unknown flags and flags without their
 * value are a {@linkcode UsageError}.
 */
export function readFlags(args: readonly string[]): Flags {
  const separator = args.indexOf("--");
  const flagArgs = separator === -1 ? [...args] : args.slice(0, separator);
  const positionals: string[] = [];
  let unknownFlag: string | undefined;
  const parsed = parseArgs(flagArgs, {
    boolean: [...BOOLEAN_FLAGS],
    string: [...VALUE_FLAGS, ...REPEATABLE_FLAGS, ...OPTIONAL_VALUE_FLAGS],
    collect: [...REPEATABLE_FLAGS],
    alias: { h: "help" },
    unknown: (arg: string, key?: string) => {
      if (key === undefined) positionals.push(arg);
      else unknownFlag ??= arg.split("=")[0];
      return false;
    },
  });
  if (separator !== -1) positionals.push(...args.slice(separator + 1));
  if (unknownFlag !== undefined) {
    throw new UsageError(`unknown option ${JSON.stringify(unknownFlag)}`);
  }
  checkBooleanValues(flagArgs, parsed);
  const flags: Flags = {
    positionals,
    flag: (name) => parsed[name] === true,
    value: (name) => {
      const raw = parsed[name];
      if (raw === undefined) return undefined;
      if (typeof raw !== "string" || raw === "") {
        throw new UsageError(`${describe(name)} needs a value`);
      }
      return raw;
    },
    values: (name) => {
      const raw = (parsed[name] ?? []) as unknown[];
      for (const item of raw) {
        if (typeof item !== "string" || item === "") {
          throw new UsageError(`${describe(name)} needs a value`);
        }
      }
      return raw as string[];
    },
    optionalValue: (name) => {
      const raw = parsed[name];
      if (raw === undefined) return undefined;
      return typeof raw === "string" && raw !== "" ? raw : true;
    },
    given: (name) =>
      (OPTIONAL_VALUE_FLAGS as readonly string[]).includes(name)
        ? parsed[name] !== undefined
        : (REPEATABLE_FLAGS as readonly string[]).includes(name)
        ? flags.values(name as RepeatableFlag).length > 0
        : (BOOLEAN_FLAGS as readonly string[]).includes(name)
        ? flags.flag(name as BooleanFlag)
        : flags.value(name as ValueFlag) !== undefined,
  };
  for (const name of VALUE_FLAGS) flags.value(name);
  for (const name of REPEATABLE_FLAGS) flags.values(name);
  return flags;
}

/** A number of seconds (`5`, `0.5`) as milliseconds, at least 1. */
export function parseSeconds(text: string, flag: string): number {
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text)) {
    throw new UsageError(
      `--${flag} expects a number of seconds such as 5 or 0.5, got ${
        JSON.stringify(text)
      }`,
    );
  }
  const seconds = Number(text);
  if (seconds <= 0 || seconds > MAX_SECONDS) {
    throw new UsageError(
      `--${flag} expects more than 0 and at most ${MAX_SECONDS} seconds, got ${
        JSON.stringify(text)
      }`,
    );
  }
  return Math.max(1, Math.round(seconds * 1000));
}
