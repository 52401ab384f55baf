/**
 * What the benchmarks pass to the child processes they start.
 *
 * @module
 */

/**
 * The offline import map for a child `deno run` when this process runs with
 * it (its `@std` resolves to files), else nothing.
 */
export function childImportMap(): string[] {
  const resolved = import.meta.resolve("@std/net/unstable-ip");
  if (!resolved.startsWith("file:")) return [];
  return [
    `--import-map=${
      new URL("../offline/import_map.json", import.meta.url).pathname
    }`,
  ];
}
