/**
 * OFFLINE STAND-IN for `jsr:@std/cli/parse-args` (see offline/README.md): the
 * subset of `parseArgs` this project uses. `node:util`'s `parseArgs` follows
 * other rules (strict errors, no number conversion), so this one is written
 * out from the documented `@std` behaviour. Not published.
 *
 * Kept on purpose: a value that looks like a number becomes a number unless its
 * flag is listed in `string`; a string flag followed by an argument that starts
 * with "-" gets the empty string; `collect` flags default to `[]`; `unknown` is
 * called for undeclared flags and for positional arguments, and returning
 * `false` drops the argument.
 *
 * @module
 */

/** Options accepted by {@linkcode parseArgs} (the subset used here). */
export interface ParseOptions {
  /** Flags that are booleans. */
  boolean?: string[];
  /** Flags whose values are always strings. */
  string?: string[];
  /** Flags that may repeat; their values are collected into an array. */
  collect?: string[];
  /** Flags that accept a `--no-` prefix to set `false`. */
  negatable?: string[];
  /** Alternative names: `{ h: "help" }`. */
  alias?: Record<string, string | string[]>;
  /** Default values. */
  default?: Record<string, unknown>;
  /** Called for undeclared flags and positionals; `false` drops the argument. */
  unknown?: (arg: string, key?: string, value?: unknown) => unknown;
}

/** The parsed arguments: positionals in `_`, flags by name. */
export interface Args {
  /** Positional arguments. */
  _: Array<string | number>;
  /** Flags by name. */
  [key: string]: unknown;
}

const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?$/i;
const toValue = (text: string): string | number =>
  NUMBER.test(text) ? Number(text) : text;

/** Parses command-line arguments as `@std/cli`'s `parseArgs` does. */
export function parseArgs(args: string[], options: ParseOptions = {}): Args {
  const names = new Map<string, string>();
  for (const [key, value] of Object.entries(options.alias ?? {})) {
    for (const alias of [value].flat()) {
      names.set(alias, key);
      names.set(key, key);
    }
  }
  const canonical = (key: string) => names.get(key) ?? key;
  const booleans = new Set(options.boolean ?? []);
  const strings = new Set(options.string ?? []);
  const collects = new Set(options.collect ?? []);
  const negatables = new Set(options.negatable ?? []);
  const declared = (key: string) =>
    booleans.has(key) || strings.has(key) || collects.has(key) ||
    names.has(key);

  const result: Args = { _: [] };
  for (const key of booleans) if (!collects.has(key)) result[key] = false;
  for (const key of collects) result[key] = [];
  Object.assign(result, options.default ?? {});

  const set = (key: string, value: unknown, arg: string) => {
    if (!declared(key) && options.unknown?.(arg, key, value) === false) return;
    if (collects.has(key)) (result[key] as unknown[]).push(value);
    else result[key] = value;
  };

  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (arg === "--") {
      result._.push(...args.slice(index + 1));
      break;
    }
    const long = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg);
    const short = long ? null : /^-([^-][\s\S]*)$/.exec(arg);
    if (!long && !short) {
      if (options.unknown?.(arg) !== false) {
        result._.push(strings.has("_") ? arg : toValue(arg));
      }
      continue;
    }
    const takeValue = (key: string, inline: string | undefined) => {
      if (booleans.has(key)) {
        return inline === undefined ? true : inline !== "false";
      }
      let text = inline;
      if (text === undefined) {
        const next = args[index + 1];
        if (next !== undefined && !next.startsWith("-")) {
          text = next;
          index++;
        } else {
          return strings.has(key) ? "" : true;
        }
      }
      return strings.has(key) ? text : toValue(text);
    };
    if (long) {
      const negated = /^no-(.+)$/.exec(long[1]);
      if (negated && negatables.has(canonical(negated[1]))) {
        set(canonical(negated[1]), false, arg);
        continue;
      }
      const key = canonical(long[1]);
      set(key, takeValue(key, long[2]), arg);
      continue;
    }
    const letters = short![1];
    for (let position = 0; position < letters.length; position++) {
      const key = canonical(letters[position]);
      const rest = letters.slice(position + 1);
      if (rest !== "" && !booleans.has(key) && declared(key)) {
        set(key, takeValue(key, rest), arg);
        break;
      }
      set(key, rest === "" ? takeValue(key, undefined) : true, arg);
    }
  }
  for (const [alias, key] of names) {
    if (alias !== key && key in result) result[alias] = result[key];
  }
  return result;
}
