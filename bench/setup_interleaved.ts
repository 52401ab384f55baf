/**
 * Setup latency, measured so that a shared, busy machine cannot tilt the
 * ratio: raw-Deno pairs and Connector pairs run in alternating rounds (25 TCP
 * pairs of one, 25 of the other, and again: short rounds, so that a burst of
 * other work lands in few of them), and the ratio is taken between the
 * medians of the rounds; the table also gives the median of each Connector
 * round divided by the raw round before it, and the ratio of the fastest
 * rounds, which a loaded machine disturbs least. `deno bench` runs each case
 * as one block, so a burst of other work lands on one side; this script is
 * the check to use for the setup targets (Connector TCP ≤ 1.25× raw Deno).
 *
 * ```sh
 * deno run -A --import-map=offline/import_map.json bench/setup_interleaved.ts \
 *   [--rounds 60] [--pairs 25] [--tls-pairs 5] [--out FILE]
 * ```
 *
 * Every TCP pair leaves a port in TIME_WAIT for 60 s: the defaults use about
 * 3,200 TCP pairs (and as many over unix sockets, which use no port).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import {
  closePair,
  connectorTcpPair,
  connectorTlsPair,
  connectorUnixPair,
  type Pair,
  rawStartTlsPair,
  rawTcpPair,
  rawUnixPair,
} from "./pairs.ts";
import { median } from "./stats.ts";

interface Case {
  name: string;
  raw: () => Promise<Pair>;
  connector: () => Promise<Pair>;
  tls: boolean;
}

const CASES: Case[] = [
  {
    name: "TCP",
    raw: rawTcpPair,
    connector: connectorTcpPair,
    tls: false,
  },
  {
    name: "unix socket",
    raw: rawUnixPair,
    connector: connectorUnixPair,
    tls: false,
  },
  {
    name: "TLS (raw: connect + setNoDelay + startTls)",
    raw: rawStartTlsPair,
    connector: connectorTlsPair,
    tls: true,
  },
];

/** Microseconds per pair for `count` sequential pairs. */
async function round(
  makePair: () => Promise<Pair>,
  count: number,
): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < count; index++) closePair(await makePair());
  return (performance.now() - started) / count * 1000;
}

function positiveInteger(value: unknown, name: string, fallback: number) {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new RangeError(`Invalid --${name} "${value}": an integer ≥ 1`);
  }
  return number;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args.filter((arg) => arg !== "--"), {
    string: ["rounds", "pairs", "tls-pairs", "out"],
  }) as Record<string, unknown>;
  const rounds = positiveInteger(args.rounds, "rounds", 60);
  const pairs = positiveInteger(args.pairs, "pairs", 25);
  const tlsPairs = positiveInteger(args["tls-pairs"], "tls-pairs", 5);
  const lines = [
    `### Setup latency, interleaved: ${rounds} rounds, raw and Connector alternating`,
    "",
    `µs per sequential pair (listen, connect, accept, handshake, close); ${pairs} pairs per round (TLS: ${tlsPairs}).`,
    "",
    "| transport | raw median µs | Connector median µs | raw min | Connector min | Connector ÷ raw (medians) | per-round ratios, median | ÷ (minimums) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const entry of CASES) {
    const count = entry.tls ? tlsPairs : pairs;
    const raw: number[] = [];
    const connector: number[] = [];
    // One unmeasured round each to warm up.
    await round(entry.raw, count);
    await round(entry.connector, count);
    for (let index = 0; index < rounds; index++) {
      raw.push(await round(entry.raw, count));
      connector.push(await round(entry.connector, count));
    }
    const ratio = median(connector) / median(raw);
    // Each Connector round against the raw round just before it: a burst of
    // other work spoils one pair of rounds, not the whole column.
    const paired = median(connector.map((value, index) => value / raw[index]));
    const fastest = Math.min(...connector) / Math.min(...raw);
    console.error(
      `${entry.name}: ${ratio.toFixed(2)}× (paired ${
        paired.toFixed(2)
      }×, minimums ${fastest.toFixed(2)}×)`,
    );
    lines.push(
      `| ${entry.name} | ${median(raw).toFixed(1)} | ${
        median(connector).toFixed(1)
      } | ${Math.min(...raw).toFixed(1)} | ${
        Math.min(...connector).toFixed(1)
      } | ${ratio.toFixed(2)}× | ${paired.toFixed(2)}× | ${
        fastest.toFixed(2)
      }× |`,
    );
  }
  const markdown = lines.join("\n") + "\n";
  console.log(markdown);
  if (typeof args.out === "string") {
    await Deno.writeTextFile(args.out, markdown);
  }
}

if (import.meta.main) {
  await main();
}
