/**
 * OFFLINE STAND-IN for `jsr:@std/cli/parse-args` (see offline/README.md):
 * `parseArgs` with the rules of `@std/cli` 1.0.32, written out from its
 * behaviour (the real source under ../shared/jsr/registry was read, not
 * copied). `node:util`'s `parseArgs` follows other rules (strict errors, no
 * number conversion). Not published.
 *
 * The rules kept on purpose, surprises included (offline/std/*_test.ts pins
 * them, and runs against the real package too):
 * - a value that looks like a finite number becomes a number unless its flag
 *   is in `string` (`" 80"`, `"0x10"` and `"1e3"` included);
 * - `--flag value` takes the next argument unless the flag is a boolean or
 *   the argument starts with `-` or is empty; a boolean takes a following
 *   `true`/`false`; `--flag=value` sets a boolean to `value !== "false"`;
 * - a flag left without a value gets `""` if it is a string, else `true`
 *   (`--port -1` with `port` a string: `port: ""` and `"1": true`);
 * - an alias shares its flag's type and value (`-h listen` with `h` for the
 *   boolean `help`: help plus a positional);
 * - a short group `-abc` sets `a` and `b` and lets `c` take the next argument;
 *   a letter followed by `=x`, by a number, or by a non-word character takes
 *   the rest as its value;
 * - booleans default to `false` (`[]` when also collected), string flags that
 *   are collected to `[]`; a flag only in `collect` gets no default;
 * - everything after the first `--` is positional, untouched;
 * - `unknown` is called for undeclared flags and for positionals; returning
 *   `false` drops the argument.
 *
 * @module
 */

/** Options accepted by {@linkcode parseArgs}. */
export interface ParseOptions {
  /** When true, arguments after `--` go to `result["--"]` instead of `_`. */
  "--"?: boolean;
  /** Flags that are booleans (`true`: every `--name` without `=`). */
  boolean?: boolean | string | readonly string[];
  /** Flags whose values are always strings. */
  string?: string | readonly string[];
  /** Flags that may repeat; their values are collected into an array. */
  collect?: string | readonly string[];
  /** Flags that accept a `--no-` prefix to set `false`. */
  negatable?: string | readonly string[];
  /** Alternative names: `{ help: "h" }` or `{ h: "help" }`. */
  alias?: Record<string, string | readonly string[] | undefined>;
  /** Default values, by flag name (dotted names nest). */
  default?: Record<string, unknown>;
  /** When true, everything after the first positional is positional. */
  stopEarly?: boolean;
  /** Called for undeclared flags and positionals; `false` drops the argument. */
  unknown?: (arg: string, key?: string, value?: unknown) => unknown;
}

/** The parsed arguments: positionals in `_`, flags by name. */
export interface Args {
  /** Positional arguments. */
  _: Array<string | number>;
  /** Arguments after `--` when the `"--"` option is set. */
  "--"?: string[];
  /** Flags by name. */
  // deno-lint-ignore no-explicit-any
  [key: string]: any;
}

type Tree = Record<string, unknown>;

function listOf(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return (typeof value === "string" ? [value] : [...value]).filter((name) =>
    name !== ""
  );
}

/** Whether `text` converts: not blank and a finite `Number(text)`. */
function looksNumeric(text: string): boolean {
  return /\S/.test(text) && Number.isFinite(Number(text));
}

function forbidden(object: Tree, key: string): boolean {
  return key === "__proto__" ||
    (key === "constructor" && typeof object[key] === "function");
}

/** Sets `path` (a dotted name, split) in `tree`, appending when collecting. */
function assign(
  tree: Tree,
  path: string[],
  value: unknown,
  collecting = false,
): void {
  let object = tree;
  for (const step of path.slice(0, -1)) {
    if (forbidden(object, step)) return;
    object = (object[step] ??= {}) as Tree;
  }
  const last = path[path.length - 1];
  if (forbidden(object, last)) return;
  if (collecting) {
    const current = object[last];
    if (Array.isArray(current)) {
      current.push(value);
      return;
    }
    value = current ? [current, value] : [value];
  }
  object[last] = value;
}

function present(tree: Tree, path: string[]): boolean {
  let object: unknown = tree;
  for (const step of path) {
    if (!Object.hasOwn(object as Tree, step)) return false;
    object = (object as Tree)[step];
  }
  return true;
}

/** Parses command-line arguments as `@std/cli`'s `parseArgs` does. */
export function parseArgs(
  args: readonly string[],
  options: ParseOptions = {},
): Args {
  const unknown = options.unknown ?? ((arg: string): unknown => arg);
  const allBooleans = options.boolean === true;

  // Each name maps to the other names of the same flag.
  const others = new Map<string, Set<string>>();
  for (const [name, value] of Object.entries(options.alias ?? {})) {
    if (value === undefined) throw new TypeError("Alias value must be defined");
    const aliases = typeof value === "string" ? [value] : [...value];
    others.set(name, new Set(aliases));
    for (const alias of aliases) {
      others.set(
        alias,
        new Set([name, ...aliases.filter((other) => other !== alias)]),
      );
    }
  }
  const withAliases = (names: string[]) => {
    const set = new Set<string>();
    for (const name of names) {
      set.add(name);
      for (const alias of others.get(name) ?? []) set.add(alias);
    }
    return set;
  };
  const booleans = withAliases(
    typeof options.boolean === "boolean" ? [] : listOf(options.boolean),
  );
  const strings = withAliases(listOf(options.string));
  const collects = withAliases(listOf(options.collect));
  const negatables = withAliases(listOf(options.negatable));
  const isBooleanFlag = (name: string) =>
    booleans.has(name) ||
    [...others.get(name) ?? []].some((alias) => booleans.has(alias));

  const result: Args = { _: [] };
  const set = (name: string, raw: unknown, arg: string, collect = true) => {
    const declared = booleans.has(name) || strings.has(name) ||
      others.has(name) || collects.has(name) ||
      (allBooleans && /^--[^=]+$/.test(arg));
    if (!declared && unknown(arg, name, raw) === false) return;
    const value = typeof raw === "string" && !strings.has(name) &&
        looksNumeric(raw)
      ? Number(raw)
      : raw;
    const collecting = collect && collects.has(name);
    for (const key of [name, ...others.get(name) ?? []]) {
      assign(result, key.split("."), value, collecting);
    }
  };
  const emptyValue = (name: string) => strings.has(name) ? "" : true;
  const isTrueOrFalse = (text: string) => text === "true" || text === "false";

  const separator = args.indexOf("--");
  const afterSeparator = separator === -1 ? [] : args.slice(separator + 1);
  const flagArgs = separator === -1 ? args : args.slice(0, separator);

  for (let index = 0; index < flagArgs.length; index++) {
    const arg = flagArgs[index];
    const next = flagArgs[index + 1];
    if (!arg.startsWith("-") || arg.length < 2) {
      if (unknown(arg) !== false) {
        result._.push(
          strings.has("_") || !looksNumeric(arg) ? arg : Number(arg),
        );
      }
      if (options.stopEarly) {
        result._.push(...flagArgs.slice(index + 1));
        break;
      }
      continue;
    }

    if (arg.startsWith("--") && arg.length > 2) {
      // --name, --name=value, --no-name; the name is at least one character.
      let body = arg.slice(2);
      let negated = false;
      if (body.startsWith("no-") && body.length > 3) {
        negated = true;
        body = body.slice(3);
      }
      const equals = body.indexOf("=", 1);
      if (equals !== -1) {
        // --no-name=value sets name: the "no-" is dropped, as in @std/cli.
        const name = body.slice(0, equals);
        const text = body.slice(equals + 1);
        set(name, booleans.has(name) ? text !== "false" : text, arg);
        continue;
      }
      if (negated && negatables.has(body)) {
        set(body, false, arg, false);
        continue;
      }
      const name = negated ? `no-${body}` : body;
      if (next) {
        if (
          !booleans.has(name) && !allBooleans && !next.startsWith("-") &&
          !isBooleanFlag(name)
        ) {
          index++;
          set(name, next, arg);
          continue;
        }
        if (isTrueOrFalse(next)) {
          index++;
          set(name, next !== "false", arg);
          continue;
        }
      }
      set(name, emptyValue(name), arg);
      continue;
    }

    // A short group: -a, -abc, -n5, -a=x.
    let groupDone = false;
    for (let position = 1; position < arg.length - 1; position++) {
      const letter = arg[position];
      const rest = arg.slice(position + 1);
      if (rest === "-") {
        set(letter, rest, arg);
        continue;
      }
      if (rest === "=") {
        set(letter, "", arg);
        groupDone = true;
        break;
      }
      if (/[A-Za-z]/.test(letter)) {
        const inline = /=(.+)/.exec(rest);
        if (inline) {
          set(letter, inline[1], arg);
          groupDone = true;
          break;
        }
        if (/-?\d+(\.\d*)?(e-?\d+)?$/.test(rest)) {
          set(letter, rest, arg);
          groupDone = true;
          break;
        }
      }
      // The next letter of the group (not the group's last character).
      if (position + 1 < arg.length - 1 && /\W/.test(arg[position + 1])) {
        set(letter, rest, arg);
        groupDone = true;
        break;
      }
      set(letter, emptyValue(letter), arg);
    }
    if (groupDone) continue;
    const last = arg[arg.length - 1];
    if (last === "-") continue;
    if (next) {
      if (!/^--?[^-]/.test(next) && !isBooleanFlag(last)) {
        index++;
        set(last, next, arg);
        continue;
      }
      if (isTrueOrFalse(next)) {
        index++;
        set(last, next !== "false", arg);
        continue;
      }
    }
    set(last, emptyValue(last), arg);
  }

  for (const [name, value] of Object.entries(options.default ?? {})) {
    const path = name.split(".");
    if (present(result, path)) continue;
    assign(result, path, value);
    for (const alias of others.get(name) ?? []) {
      assign(result, alias.split("."), value);
    }
  }
  for (const name of booleans) {
    const path = name.split(".");
    if (!present(result, path)) {
      assign(result, path, collects.has(name) ? [] : false);
    }
  }
  for (const name of strings) {
    const path = name.split(".");
    if (!present(result, path) && collects.has(name)) assign(result, path, []);
  }
  if (options["--"]) result["--"] = afterSeparator;
  else result._.push(...afterSeparator);
  return result;
}
