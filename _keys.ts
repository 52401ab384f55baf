/**
 * The one check that an options object holds only known keys, shared by the
 * option parsers (`_options.ts`, `retry`, `relay`, `tls`); each says in its
 * own words what the unknown key was and what is accepted.
 *
 * @module
 */

/** The first own key of `value` that is not in `known`, if any. */
export function unknownKey(
  value: object,
  known: readonly string[],
): string | undefined {
  return Object.keys(value).find((key) => !known.includes(key));
}
