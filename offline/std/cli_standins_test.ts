/**
 * Tests of the stand-in surface the CLI needs beyond offline/std/standins_test.ts:
 * `ProgressBar`'s `formatter` option (the current `@std/cli` name; `fmt` was
 * renamed by denoland/std#6707).
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { ProgressBar } from "@std/cli/unstable-progress-bar";

function collector(): { writable: WritableStream<Uint8Array>; text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    writable: new WritableStream<Uint8Array>({
      write: (chunk) => void chunks.push(chunk),
    }),
    text: () =>
      new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
  };
}

Deno.test("@std/cli ProgressBar draws each line with the formatter option", async () => {
  const output = collector();
  const bar = new ProgressBar({
    max: 4,
    writable: output.writable,
    formatter: (state) =>
      `${state.styledTime} ${state.progressBar.length} ${state.value}/${state.max}`,
  });
  bar.value = 2;
  await bar.stop();
  const text = output.text();
  assert(text.startsWith("\r\u001b[K00:00 50 0/4"), JSON.stringify(text));
  assert(text.endsWith("\r\u001b[K00:00 50 2/4\n"), JSON.stringify(text));
});

Deno.test("@std/cli ProgressBar draws a bar proportional to value / max", async () => {
  const output = collector();
  const bar = new ProgressBar({
    max: 10,
    value: 5,
    writable: output.writable,
    formatter: (state) => `[${state.progressBar}]`,
  });
  await bar.stop();
  const line = output.text().split("\r\u001b[K").at(-1)!;
  assertEquals(line, `[${"#".repeat(25)}${"-".repeat(25)}]\n`);
});

Deno.test("@std/cli ProgressBar draws no bar at all for 0 of 0, a full one past max", async () => {
  const empty = collector();
  await new ProgressBar({
    max: 0,
    writable: empty.writable,
    formatter: (state) => `[${state.progressBar}]`,
  }).stop();
  assertEquals(empty.text().split("\r\u001b[K").at(-1), "[]\n");
  const full = collector();
  await new ProgressBar({
    max: 0,
    value: 5,
    writable: full.writable,
    formatter: (state) => `[${state.progressBar}]`,
  }).stop();
  assertEquals(full.text().split("\r\u001b[K").at(-1), `[${"#".repeat(50)}]\n`);
});

Deno.test("@std/cli ProgressBar passes the previous redraw's value to the formatter", async () => {
  const output = collector();
  const bar = new ProgressBar({
    max: 10,
    writable: output.writable,
    formatter: (state) => `${state.previousValue}->${state.value}`,
  });
  bar.value = 7;
  await bar.stop();
  assertEquals(output.text(), "\r\u001b[K0->0\r\u001b[K0->7\n");
});
