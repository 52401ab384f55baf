/**
 * Errors that keep their class: rebuild an error with a clearer message (or
 * with context in front of it) while keeping Deno's class (`ConnectionRefused`,
 * `InvalidData`, ...) and the original as `cause`, so callers can still
 * `instanceof` them.
 *
 * @module
 */

import type { OptionAdvice } from "./errors.ts";

type ErrorConstructor = new (message: string, options?: ErrorOptions) => Error;

/**
 * An error of the same class as `error` with `message`, and `error` as its
 * cause. Values that are not errors, or classes that cannot be rebuilt, are
 * returned as they are.
 */
export function rebuildError(error: unknown, message: string): unknown {
  if (!(error instanceof Error)) return error;
  try {
    return new (error.constructor as ErrorConstructor)(message, {
      cause: error,
    });
  } catch {
    return error;
  }
}

/** Same class, with `context` in front of the message: `"context: message"`. */
export function withContext(error: unknown, context: string): unknown {
  if (!(error instanceof Error)) return error;
  const rebuilt = rebuildError(error, `${context}: ${error.message}`);
  const advice = (error as Error & { [ADVICE]?: OptionAdvice })[ADVICE];
  if (advice === undefined) return rebuilt;
  return withAdvice(rebuilt, {
    ...advice,
    problem: `${context}: ${advice.problem}`,
  });
}

/** Where {@linkcode withAdvice} keeps an error's advice (see errors.ts). */
export const ADVICE: unique symbol = Symbol("@transfer/connect advice");

/**
 * Attaches `advice` to `error` and returns it. The message is expected to
 * read `${advice.problem}; ${advice.action} ${advice.option}`.
 */
export function withAdvice<T>(error: T, advice: OptionAdvice): T {
  if (error instanceof Error) {
    Object.defineProperty(error, ADVICE, { value: Object.freeze(advice) });
  }
  return error;
}
