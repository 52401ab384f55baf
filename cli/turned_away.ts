/**
 * Peers a listener turned away, counted by kind of reason, so that a flood of
 * guesses is reported about once a second ("turned away 312 peers in the last
 * second: 311 wrong code, 1 not TLS") instead of one line each.
 *
 * @module
 */

/** The kinds of reason, in the order a summary lists them. */
const KINDS: readonly [string, RegExp][] = [
  ["wrong code", /does not hold the same code|did not prove it holds the same/],
  ["no code", /does not speak the @transfer\/connect secret exchange/],
  ["not allowed", /not in the allow list/],
  ["not TLS", /TLS|handshake|certificate|ClientHello/i],
  ["too slow", /timed out|silent/i],
  ["dropped under load", /^dropped/],
];

/**
 * The short kind of a rejection reason, as a summary counts it.
 *
 * @example Usage
 * ```ts
 * import { reasonKind } from "./turned_away.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(reasonKind("not in the allow list"), "not allowed");
 * assertEquals(reasonKind("something else"), "other");
 * ```
 *
 * @param reason The one-line reason the connector reported.
 * @returns `wrong code`, `no code`, `not allowed`, `not TLS`, `too slow`,
 * `dropped under load` or `other`.
 */
export function reasonKind(reason: string): string {
  return KINDS.find(([, pattern]) => pattern.test(reason))?.[0] ?? "other";
}

/** A count of turned-away peers by kind of reason. */
export class TurnedAway {
  #counts = new Map<string, number>();
  /** Peers counted. */
  count = 0;

  /** Counts one peer turned away for `reason`. */
  add(reason: string): void {
    const kind = reasonKind(reason);
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    this.count++;
  }

  /** The counts by kind, most frequent first. */
  byKind(): Record<string, number> {
    return Object.fromEntries(
      [...this.#counts].sort(([, a], [, b]) => b - a),
    );
  }

  /** `312 peers{when}: 311 wrong code, 1 not TLS`. */
  describe(when = ""): string {
    const parts = Object.entries(this.byKind()).map(([kind, count]) =>
      `${count} ${kind}`
    );
    return `${this.count} peer${this.count === 1 ? "" : "s"}${when}: ${
      parts.join(", ")
    }`;
  }
}
