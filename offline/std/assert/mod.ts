/**
 * OFFLINE STAND-IN for `jsr:@std/assert` (see offline/README.md): the
 * assertions this project's tests use, with the rules of `@std/assert` 1.0.19
 * (its source was read, not copied) and, like it, no `node:` import. The
 * failure messages are shorter (no coloured diff). Not published.
 *
 * @module
 */

/** Error thrown by a failed assertion, as in `@std/assert`. */
export class AssertionError extends Error {
  /** Creates an assertion error with the given message. */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function primitive(value: unknown): boolean {
  return value === null || (typeof value !== "object" &&
    typeof value !== "function");
}

function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || Object.is(a, b);
}

function samePrototype(a: object, b: object): boolean {
  const pa = Object.getPrototypeOf(a);
  const pb = Object.getPrototypeOf(b);
  return pa === pb ||
    (pa === Object.prototype && pb === null) ||
    (pa === null && pb === Object.prototype);
}

function ownKeys(value: object): Array<string | symbol> {
  return [
    ...Object.getOwnPropertyNames(value),
    ...Object.getOwnPropertySymbols(value),
  ];
}

/** Own and inherited keys up to (not including) Object/Array.prototype. */
function allKeys(value: object): Set<string | symbol> {
  const keys = new Set<string | symbol>();
  let current: object | null = value;
  while (
    current !== null && current !== Object.prototype &&
    current !== Array.prototype
  ) {
    for (const key of ownKeys(current)) keys.add(key);
    current = Object.getPrototypeOf(current);
  }
  return keys;
}

const TypedArray = Object.getPrototypeOf(Uint8Array);
const COMPARED_AS_STRINGS = new Set<unknown>(
  [Intl.Locale, RegExp, URL, URLSearchParams].map((type) => type.prototype),
);

function sameElements(a: ArrayLike<unknown>, b: ArrayLike<unknown>): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) {
    if (!sameValueZero(a[index], b[index])) return false;
  }
  return true;
}

/** Deep equality with the rules of `@std/assert`'s `equal`. */
export function equal(a: unknown, b: unknown): boolean {
  const seen = new Map<unknown, unknown>();
  const compare = (a: unknown, b: unknown): boolean => {
    if (sameValueZero(a, b)) return true;
    if (primitive(a) || primitive(b)) return false;
    if (a instanceof Date && b instanceof Date) {
      return Object.is(a.getTime(), b.getTime());
    }
    if (typeof a !== "object" || typeof b !== "object") return false;
    const x = a as Record<string | symbol, unknown>;
    const y = b as Record<string | symbol, unknown>;
    if (!samePrototype(x, y)) return false;
    if (x instanceof TypedArray) {
      return sameElements(
        x as unknown as ArrayLike<unknown>,
        y as unknown as ArrayLike<unknown>,
      );
    }
    if (x instanceof ArrayBuffer) {
      return sameElements(
        new Uint8Array(x),
        new Uint8Array(y as unknown as ArrayBuffer),
      );
    }
    if (x instanceof WeakMap || x instanceof WeakSet) {
      throw new TypeError("Cannot compare WeakMap or WeakSet instances");
    }
    if (seen.get(x) === y) return true;
    if (Object.keys(x).length !== Object.keys(y).length) return false;
    seen.set(x, y);
    if (
      (x instanceof Map || x instanceof Set) &&
      (y instanceof Map || y instanceof Set)
    ) {
      return sameCollections(x, y, compare);
    }
    if (COMPARED_AS_STRINGS.has(Object.getPrototypeOf(x))) {
      return String(x) === String(y);
    }
    const proto = Object.getPrototypeOf(x);
    const plain = proto === null || proto === Object.prototype ||
      proto === Array.prototype;
    const keys = plain
      ? new Set([...ownKeys(x), ...ownKeys(y)])
      : allKeys(x).union(allKeys(y));
    for (const key of keys) {
      if (!compare(x[key], y[key])) return false;
      if ((key in x) !== (key in y)) return false;
    }
    return true;
  };
  return compare(a, b);
}

function sameCollections(
  a: Map<unknown, unknown> | Set<unknown>,
  b: Map<unknown, unknown> | Set<unknown>,
  compare: (a: unknown, b: unknown) => boolean,
): boolean {
  if (a.size !== b.size) return false;
  const entries = (c: Map<unknown, unknown> | Set<unknown>) =>
    [...c.entries()] as Array<[unknown, unknown]>;
  if ([...a.keys()].every(primitive)) {
    if (a instanceof Set) {
      return a.symmetricDifference(b as Set<unknown>).size === 0;
    }
    return entries(a).every(([key, value]) =>
      b.has(key) && compare(value, (b as Map<unknown, unknown>).get(key))
    );
  }
  let unmatched = a.size;
  for (const [aKey, aValue] of entries(a)) {
    for (const [bKey, bValue] of entries(b)) {
      if (!compare(aKey, bKey)) continue;
      if ((aKey === aValue && bKey === bValue) || compare(aValue, bValue)) {
        unmatched--;
        break;
      }
    }
  }
  return unmatched === 0;
}

function show(value: unknown): string {
  try {
    return Deno.inspect(value, { depth: 8, colors: false });
  } catch {
    return String(value);
  }
}

function suffix(msg: string | undefined): string {
  return msg ? `: ${msg}` : ".";
}

/** Asserts that `expr` is truthy. */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg);
}

/** Asserts that `expr` is falsy. */
export function assertFalse(expr: unknown, msg = ""): void {
  if (expr) throw new AssertionError(msg);
}

/** Asserts deep equality of `actual` and `expected`. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) return;
  throw new AssertionError(
    `Values are not equal${suffix(msg)}\n  actual:   ${
      show(actual)
    }\n  expected: ${show(expected)}`,
  );
}

/** Asserts that `actual` and `expected` are not deeply equal. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) return;
  throw new AssertionError(
    `Expected actual: ${show(actual)} not to be: ${show(expected)}${
      suffix(msg)
    }`,
  );
}

/** Asserts that `actual` is greater than `expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (actual > expected) return;
  throw new AssertionError(msg ?? `Expect ${actual} > ${expected}`);
}

/** Asserts that `actual` is less than or equal to `expected`. */
export function assertLessOrEqual<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (actual <= expected) return;
  throw new AssertionError(msg ?? `Expect ${actual} <= ${expected}`);
}

/** Asserts that the string `actual` contains `expected`. */
export function assertStringIncludes(
  actual: string,
  expected: string,
  msg?: string,
): void {
  if (actual.includes(expected)) return;
  throw new AssertionError(
    `Expected actual: "${actual}" to contain: "${expected}"${suffix(msg)}`,
  );
}

/** Asserts that the string `actual` matches the regular expression. */
export function assertMatch(
  actual: string,
  expected: RegExp,
  msg?: string,
): void {
  if (expected.test(actual)) return;
  throw new AssertionError(
    `Expected actual: "${actual}" to match: "${expected}"${suffix(msg)}`,
  );
}

// deno-lint-ignore no-explicit-any
type AnyConstructor = abstract new (...args: any[]) => unknown;

/** Asserts that `actual` is an instance of `expectedType`. */
export function assertInstanceOf<T extends AnyConstructor>(
  actual: unknown,
  expectedType: T,
  msg = "",
): asserts actual is InstanceType<T> {
  if (actual instanceof expectedType) return;
  const name = (actual as { constructor?: { name?: string } })?.constructor
    ?.name;
  throw new AssertionError(
    msg ||
      `Expected object to be an instance of "${expectedType.name}" but was "${name}".`,
  );
}

// deno-lint-ignore no-explicit-any
type ErrorConstructor<E> = abstract new (...args: any[]) => E;

function checkError<E extends Error>(
  error: unknown,
  ErrorClass: ErrorConstructor<E> | undefined,
  msgIncludes: string | undefined,
  msg: string | undefined,
): void {
  if (ErrorClass === undefined) return;
  if (!(error instanceof Error)) {
    throw new AssertionError(`A non-Error object was thrown${suffix(msg)}`);
  }
  if (!(error instanceof ErrorClass)) {
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${error.constructor?.name}"${
        suffix(msg)
      }`,
    );
  }
  if (msgIncludes && !error.message.includes(msgIncludes)) {
    throw new AssertionError(
      `Expected error message to include ${
        JSON.stringify(msgIncludes)
      }, but got ${JSON.stringify(error.message)}${suffix(msg)}`,
    );
  }
}

/** Asserts that `fn` throws; returns what it threw. */
export function assertThrows(fn: () => unknown, msg?: string): unknown;
/** Asserts that `fn` throws an `ErrorClass` whose message includes `msgIncludes`. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass: ErrorConstructor<E>,
  msgIncludes?: string,
  msg?: string,
): E;
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  classOrMsg?: ErrorConstructor<E> | string,
  msgIncludes?: string,
  msg?: string,
): unknown {
  const ErrorClass = typeof classOrMsg === "string" ? undefined : classOrMsg;
  if (typeof classOrMsg === "string") msg = classOrMsg;
  try {
    fn();
  } catch (error) {
    checkError(error, ErrorClass, msgIncludes, msg);
    return error;
  }
  throw new AssertionError(`Expected function to throw${suffix(msg)}`);
}

/** Asserts that the promise returned by `fn` rejects; returns the reason. */
export function assertRejects(
  fn: () => PromiseLike<unknown>,
  msg?: string,
): Promise<unknown>;
/** Asserts that `fn` rejects with an `ErrorClass` whose message includes `msgIncludes`. */
export function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass: ErrorConstructor<E>,
  msgIncludes?: string,
  msg?: string,
): Promise<E>;
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  classOrMsg?: ErrorConstructor<E> | string,
  msgIncludes?: string,
  msg?: string,
): Promise<unknown> {
  const ErrorClass = typeof classOrMsg === "string" ? undefined : classOrMsg;
  if (typeof classOrMsg === "string") msg = classOrMsg;
  let promise: PromiseLike<unknown> | undefined;
  try {
    promise = fn();
  } catch {
    promise = undefined;
  }
  if (
    promise === null || typeof promise !== "object" ||
    typeof promise.then !== "function"
  ) {
    throw new AssertionError(
      `Function throws when expected to reject${suffix(msg)}`,
    );
  }
  try {
    await promise;
  } catch (error) {
    checkError(error, ErrorClass, msgIncludes, msg);
    return error;
  }
  throw new AssertionError(
    `Expected function to reject${suffix(msg)}`,
  );
}
