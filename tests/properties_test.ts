/**
 * Property tests of bad input. Random option objects (a seeded generator, so
 * every run tries the same inputs): each one the documented rules call
 * invalid must throw the documented class from the constructor, and each
 * valid one must construct, opening nothing and needing no permission.
 *
 * The verdicts come from the documentation (the JSDoc of
 * `ConnectorOptions`, `TlsOptions`, `RetryOptions`, `SecretOption`, the
 * constructor's `@throws`, and the README's option table), not from the
 * implementation. Cases the documentation leaves open (a `timeout` of 0 or
 * Infinity, `transport` together with `tls`, `allow` with `path`, a client
 * certificate with `tls.hostname`) are not generated.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { Connector, type ConnectorOptions } from "../mod.ts";
import { seededRandom } from "./_helpers.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const CA = fixture("ca.pem");
const CERT = fixture("localhost.pem");
const KEY = fixture("localhost.key.pem");

/** `T`: the documentation says TypeError; `R`: RangeError; `ok`: valid. */
type Verdict = "ok" | "T" | "R";

/** What the documentation says about one generated input. */
interface Fault {
  /** The class the documentation names for this fault. */
  verdict: "T" | "R";
  /** Option names (or fragments) an error message about it would name. */
  names: string[];
}

type Pool = readonly [unknown, Verdict][];

const signal = new AbortController().signal;

// Values whose verdict does not depend on the mode or on other options.
const HOSTS: Pool = [
  ["127.0.0.1", "ok"],
  ["::1", "ok"],
  ["[::1]", "ok"],
  ["localhost", "ok"],
  ["example.com", "ok"],
  ["0.0.0.0", "ok"],
  ["fe80::1%lo", "ok"],
  ["localhost.", "ok"],
  ["", "T"],
  ["127.0.0.1:80", "T"],
  [" ", "T"],
  ["[::1", "T"],
  ["http://x", "T"],
  ["a\0b", "T"],
  ["1.2.3", "T"],
  [42, "T"],
  [{}, "T"],
  [null, "T"],
];
const PATHS: Pool = [
  ["/tmp/transfer-connect.sock", "ok"],
  ["relative.sock", "ok"],
  ["", "T"],
  [5, "T"],
  [null, "T"],
];
const MILLISECONDS: Pool = [
  [1, "ok"],
  [250, "ok"],
  [10_000, "ok"],
  [2_147_483_647, "ok"],
  [-1, "R"],
  [-250, "R"],
  [NaN, "R"],
  [-Infinity, "R"],
  ["5s", "T"],
  ["100", "T"],
  [true, "T"],
  [null, "T"],
];
const SIGNALS: Pool = [
  [signal, "ok"],
  [AbortSignal.abort(), "ok"],
  [{}, "T"],
  ["abort", "T"],
  [null, "T"],
];
const RETRIES: Pool = [
  [{ attempts: 1, delay: 0 }, "ok"],
  [{ attempts: 5, delay: 10 }, "ok"],
  [{ attempts: 3, delay: 10, maxDelay: 10 }, "ok"],
  [{ attempts: 1_000, delay: 1, maxDelay: 500 }, "ok"],
  [{ attempts: 0, delay: 10 }, "R"],
  [{ attempts: -2, delay: 10 }, "R"],
  [{ attempts: 1.5, delay: 10 }, "R"],
  [{ attempts: NaN, delay: 10 }, "R"],
  [{ attempts: 3, delay: -1 }, "R"],
  [{ attempts: 3, delay: NaN }, "R"],
  [{ attempts: 3, delay: 10, maxDelay: -5 }, "R"],
  [{ attempts: 3, delay: 100, maxDelay: 10 }, "R"],
  [{ attempts: "3", delay: 10 }, "T"],
  [{ attempts: 3 }, "T"],
  [{ delay: 10 }, "T"],
  [{ attempts: 3, delay: "10ms" }, "T"],
  [{ attempts: 3, delay: 10, maxDelay: "1s" }, "T"],
  [{ attempts: 3, delay: 10, jitter: 0.1 }, "T"],
  [3, "T"],
  ["3", "T"],
  [null, "T"],
];
const ALLOWS: Pool = [
  [["127.0.0.1"], "ok"],
  [["::1"], "ok"],
  [["10.0.0.0/8", "fd00::/8"], "ok"],
  [["0.0.0.0/0", "::/0"], "ok"],
  [["192.168.1.7/32", "::ffff:127.0.0.1"], "ok"],
  [[], "ok"],
  [["localhost"], "T"],
  [["10.0.0.0/33"], "T"],
  [["::1/129"], "T"],
  [["1.2.3.4/8/9"], "T"],
  [["256.1.1.1"], "T"],
  [["1.2.3"], "T"],
  [["10.0.0.0/"], "T"],
  [["10.0.0.0/8x"], "T"],
  [[""], "T"],
  [["1.2.3."], "T"],
  [["/0"], "T"],
  [[":"], "T"],
  [["1g::/16"], "T"],
  [["fe80::%eth0/10"], "T"],
  [["10.0.0.0/+8"], "T"],
  [["10.0.0.0/8.5"], "T"],
  [["::ffff:10.0.0.0/104", "[::1]"], "ok"],
  [[7], "T"],
  [["127.0.0.1", null], "T"],
  ["127.0.0.1", "T"],
  [null, "T"],
];
const SECRETS: Pool = [
  ["0123456789abcdef", "ok"], // 16 bytes
  ["a much longer shared secret, 40 bytes..", "ok"],
  ["éééééééé", "ok"], // 8 characters, 16 bytes of UTF-8
  [new Uint8Array(16), "ok"],
  [new Uint8Array(64), "ok"],
  [{ file: "secret.txt" }, "ok"],
  [{ env: "TRANSFER_SECRET" }, "ok"],
  ["x", "ok"], // any non-empty secret (CPace)
  ["ééééééé", "ok"],
  ["", "R"],
  [new Uint8Array(1), "ok"],
  [new Uint8Array(0), "R"],
  [42, "T"],
  [{}, "T"],
  [{ path: "secret.txt" }, "T"],
  [null, "T"],
];
const BOOLEANS: Pool = [
  [true, "ok"],
  [false, "ok"],
  ["yes", "T"],
  [1, "T"],
  [null, "T"],
];
const UNKNOWN_KEYS = ["prot", "Port", "hostname", "retries", "timeoutMs"];

// Values whose verdict depends on the mode: [value, active, passive].
type ModalPool = readonly [unknown, Verdict, Verdict][];
const noop = () => {};
const TRANSPORTS: ModalPool = [
  [{ connect: noop }, "ok", "T"],
  [{ listen: noop }, "T", "ok"],
  [{ connect: noop, listen: noop }, "ok", "ok"],
  [{}, "T", "T"],
  [{ connect: "yes" }, "T", "T"],
  ["deno", "T", "T"],
  [null, "T", "T"],
];
const TLS: ModalPool = [
  [true, "ok", "T"],
  [{}, "ok", "T"],
  [{ caCerts: [CA] }, "ok", "T"],
  [{ caFile: "ca.pem" }, "ok", "T"],
  [{ hostname: "localhost" }, "ok", "T"],
  [{ caCerts: [CA], alpnProtocols: ["h2", "http/1.1"] }, "ok", "T"],
  [{ cert: CERT, key: KEY }, "ok", "ok"],
  [{ certFile: "c.pem", keyFile: "k.pem" }, "ok", "ok"],
  [{ cert: CERT, key: KEY, alpnProtocols: ["x"] }, "ok", "ok"],
  [{ cert: CERT, key: KEY, caCerts: [CA] }, "ok", "T"],
  [{ cert: CERT }, "T", "T"],
  [{ key: KEY }, "T", "T"],
  [{ certFile: "c.pem" }, "T", "T"],
  [{ caCerts: ["not a certificate"] }, "T", "T"],
  [{ caCerts: CA }, "T", "T"],
  [{ cert: "garbage", key: KEY }, "T", "T"],
  [{ cert: CERT, key: "garbage" }, "T", "T"],
  [{ alpnProtocols: "h2" }, "T", "T"],
  [{ hostname: "" }, "T", "T"],
  [{ caFile: "" }, "T", "T"],
  [{ verify: false }, "T", "T"],
  ["yes", "T", "T"],
  [null, "T", "T"],
];

/** One generated case: the options and what the documentation expects. */
interface Case {
  options: unknown;
  faults: Fault[];
}

function generate(random: () => number): Case {
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(random() * items.length)];
  const chance = (p: number) => random() < p;
  /** Two times in three a valid value, else an invalid one. */
  const pickFrom = <T extends readonly unknown[]>(pool: readonly T[]): T => {
    const valid = pool.filter((entry) => entry.slice(1).includes("ok"));
    const invalid = pool.filter((entry) => !valid.includes(entry));
    return pick(chance(2 / 3) && valid.length > 0 ? valid : invalid);
  };

  if (chance(0.01)) {
    return {
      options: pick([null, 7, "passive", true]),
      faults: [{ verdict: "T", names: ["options"] }],
    };
  }
  const options: Record<string, unknown> = {};
  const faults: Fault[] = [];
  const fault = (verdict: "T" | "R", ...names: string[]) =>
    faults.push({ verdict, names });
  const take = (name: string, pool: Pool, p: number) => {
    if (!chance(p)) return;
    const [value, verdict] = pickFrom(pool);
    options[name] = value;
    if (verdict !== "ok") fault(verdict, name);
  };

  // The mode decides what the rest means.
  let mode: "active" | "passive" | undefined;
  const modeRoll = random();
  if (modeRoll < 0.3) mode = "active";
  else if (modeRoll < 0.45) mode = undefined; // active by default
  else if (modeRoll < 0.95) mode = "passive";
  if (mode !== undefined) options.mode = mode;
  let modeKnown = true;
  if (modeRoll >= 0.95) {
    options.mode = pick(["server", "", "ACTIVE", 1, null]);
    fault("T", "mode");
    modeKnown = false;
  }
  const passive = mode === "passive";

  // Where: a unix socket path, or host and port.
  const usePath = chance(0.12);
  if (usePath) {
    const [path, verdict] = pickFrom(PATHS);
    options.path = path;
    if (verdict !== "ok") fault(verdict, "path");
    // "A unix socket path, instead of host and port"; TLS is "TCP only".
    if (chance(0.2)) {
      options.host = "127.0.0.1";
      if (verdict === "ok") fault("T", "host", "path");
    }
    if (chance(0.2)) {
      options.port = 7000;
      if (verdict === "ok") fault("T", "port", "path");
    }
  } else {
    take("host", HOSTS, 0.6);
    if (chance(passive ? 0.6 : 0.93)) {
      const port = chance(2 / 3)
        ? pick([0, 1, 80, 7000, 65535])
        : pick<unknown>([65536, -1, 1.5, NaN, Infinity, "7000", null, true]);
      options.port = port;
      if (typeof port !== "number") fault("T", "port");
      else if (modeKnown) {
        // "Active: 1–65535, required. Passive: 0–65535, default 0".
        const min = passive ? 0 : 1;
        if (!Number.isInteger(port) || port < min || port > 65535) {
          fault("R", "port");
        }
      }
    } else if (!passive && modeKnown) {
      fault("T", "port"); // required in active mode
    }
  }

  take("timeout", MILLISECONDS, 0.3);
  take("signal", SIGNALS, 0.15);
  take("requestPermissions", BOOLEANS, 0.1);
  take("secret", SECRETS, 0.15);

  // Options of one mode only: "used in the wrong mode" is a TypeError.
  if (chance(0.25)) {
    const [value, verdict] = pickFrom(RETRIES);
    options.retry = value;
    if (modeKnown && passive) fault("T", "retry");
    if (verdict !== "ok") fault(verdict, "retry");
  }
  if (!usePath && chance(0.3)) {
    const [value, verdict] = pickFrom(ALLOWS);
    options.allow = value;
    if (modeKnown && !passive) fault("T", "allow");
    if (verdict !== "ok") fault(verdict, "allow");
  }
  if (chance(0.25)) {
    const [value, verdict] = pickFrom(MILLISECONDS);
    options.handshakeTimeout = value;
    if (verdict !== "ok") fault(verdict, "handshakeTimeout");
  }
  // transport and tls are not combined (the documentation leaves it open).
  const tlsOrTransport = random();
  if (tlsOrTransport < 0.3) {
    const [value, active, passiveVerdict] = pickFrom(TLS);
    options.tls = value;
    const verdict = passive ? passiveVerdict : active;
    if (modeKnown && verdict !== "ok") fault(verdict, "tls");
    if (usePath) fault("T", "tls", "path");
  } else if (tlsOrTransport < 0.45) {
    const [value, active, passiveVerdict] = pickFrom(TRANSPORTS);
    options.transport = value;
    const verdict = passive ? passiveVerdict : active;
    if (modeKnown && verdict !== "ok") fault(verdict, "transport");
  }
  if (chance(0.03)) {
    const key = pick(UNKNOWN_KEYS);
    options[key] = 1;
    fault("T", key);
  }
  return { options, faults };
}

const CASES = 5000;

Deno.test({
  name:
    `new Connector() with ${CASES} random option objects: invalid ones throw the documented class naming the option, valid ones construct without permissions`,
  permissions: "none",
  fn() {
    const random = seededRandom(0x7ca7);
    const tally = { valid: 0, TypeError: 0, RangeError: 0 };
    const failures: string[] = [];
    const describe = (options: unknown) =>
      Deno.inspect(options, { depth: 3, colors: false, breakLength: Infinity })
        .replace(/-----BEGIN[\s\S]*?-----END [A-Z ]+-----\\n/g, "<PEM>");
    for (let index = 0; index < CASES; index++) {
      const { options, faults } = generate(random);
      let thrown: unknown;
      try {
        new Connector(options as ConnectorOptions);
      } catch (error) {
        thrown = error;
      }
      if (faults.length === 0) {
        if (thrown !== undefined) {
          failures.push(`valid ${describe(options)} threw ${thrown}`);
        } else tally.valid++;
        continue;
      }
      const classes = new Set(faults.map((fault) => fault.verdict));
      const names = faults.flatMap((fault) => fault.names);
      const expected = [...classes].map((verdict) =>
        verdict === "T" ? "TypeError" : "RangeError"
      ).join(" or ");
      if (thrown === undefined) {
        failures.push(`invalid ${describe(options)} constructed (${expected})`);
        continue;
      }
      const kind = thrown instanceof RangeError
        ? "R"
        : thrown instanceof TypeError
        ? "T"
        : undefined;
      if (kind === undefined || !classes.has(kind)) {
        failures.push(
          `${describe(options)} threw ${thrown}, expected ${expected}`,
        );
        continue;
      }
      const message = (thrown as Error).message;
      const lower = message.toLowerCase();
      if (!names.some((name) => lower.includes(name.toLowerCase()))) {
        failures.push(
          `${describe(options)}: "${message}" names none of ${
            names.join(", ")
          }`,
        );
        continue;
      }
      tally[kind === "T" ? "TypeError" : "RangeError"]++;
    }
    console.log(`options: ${CASES} inputs, ${JSON.stringify(tally)}`);
    assertEquals(
      failures.length,
      0,
      `${failures.length} of ${CASES} inputs broke the documented rules:\n${
        [...new Set(failures)].slice(0, 15).join("\n")
      }`,
    );
    // The generator really exercises all three outcomes.
    assert(tally.valid > CASES / 10, `only ${tally.valid} valid inputs`);
    assert(
      tally.RangeError > CASES / 50,
      `only ${tally.RangeError} RangeErrors`,
    );
  },
});

// ------------------------------------------------------------- CLI argv --

const ARGV_CASES = 5000;
const SUBPROCESS_CASES = 40;

/** A random command line from pieces that matter to the parser. */
function generateArgv(random: () => number): string[] {
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(random() * items.length)];
  const commands = ["connect", "listen", "conect", "", "help", "LISTEN"];
  const operands = [
    "127.0.0.1",
    "::1",
    "[::1]",
    "localhost",
    "",
    "0",
    "1",
    "9000",
    "65535",
    "65536",
    "-1",
    "1e3",
    "0x10",
    " 80",
    "80 ",
    "８０",
    "abc",
    "a\nb",
  ];
  const flags = [
    "--tls",
    "--send-only",
    "--recv-only",
    "--json",
    "--progress",
    "--quiet",
    "--debug",
    "--new-secret",
    "--host",
    "--unix",
    "--ca",
    "--cert",
    "--key",
    "--servername",
    "--timeout",
    "--send",
    "--recv",
    "--retry",
    "--wait",
    "--secret-file",
    "--allow",
    "--alpn",
    "--bogus",
    "-x",
    "--tls=yes",
    "--timeout=5",
    "--no-tls",
    "---",
    "-",
    "--",
    "-p",
  ];
  const values = [
    "5",
    "0",
    "-5",
    "0.5",
    ".5",
    "1e9",
    "NaN",
    "Infinity",
    "2147484",
    "",
    "x.pem",
    "/tmp/f",
    "10.0.0.0/8",
    "::1",
    "localhost",
    "h2",
    "5\n6",
  ];
  const argv: string[] = [];
  if (random() < 0.9) argv.push(pick(commands));
  const length = Math.floor(random() * 7);
  for (let index = 0; index < length; index++) {
    const roll = random();
    if (roll < 0.3) argv.push(pick(operands));
    else if (roll < 0.75) argv.push(pick(flags));
    else argv.push(pick(values));
  }
  return argv;
}

Deno.test({
  name:
    `parseCliArgs() and the Connector with ${ARGV_CASES} random command lines: a usage error of one line or a valid command, nothing else`,
  permissions: "none",
  async fn() {
    const { parseCliArgs, UsageError } = await import("../cli/args.ts");
    const random = seededRandom(0xa5c11);
    const tally = { valid: 0, usage: 0 };
    const failures: string[] = [];
    for (let index = 0; index < ARGV_CASES; index++) {
      const argv = generateArgv(random);
      try {
        const options = parseCliArgs(argv);
        if (options.command === "connect" || options.command === "listen") {
          // What main() does next; TypeError/RangeError become usage errors.
          new Connector(options.connector);
        }
        tally.valid++;
      } catch (error) {
        const usage = error instanceof UsageError ||
          error instanceof TypeError || error instanceof RangeError;
        const message = error instanceof Error ? error.message : "";
        if (!usage) {
          failures.push(`${JSON.stringify(argv)} threw ${error}`);
        } else if (message === "" || /[\r\n]/.test(message)) {
          failures.push(
            `${JSON.stringify(argv)}: not one line: ${JSON.stringify(message)}`,
          );
        } else tally.usage++;
      }
    }
    console.log(`argv: ${ARGV_CASES} inputs, ${JSON.stringify(tally)}`);
    assertEquals(
      failures.length,
      0,
      `${failures.length} of ${ARGV_CASES} command lines:\n${
        [...new Set(failures)].slice(0, 15).join("\n")
      }`,
    );
    assert(tally.valid > 0 && tally.usage > 0);
  },
});

Deno.test(`connect CLI with ${SUBPROCESS_CASES} random bad command lines: exit 2, one line on stderr, no stack trace, no hang`, async () => {
  const { parseCliArgs } = await import("../cli/args.ts");
  const random = seededRandom(0xbad);
  const samples: string[][] = [];
  while (samples.length < SUBPROCESS_CASES) {
    const argv = generateArgv(random);
    if (argv.includes("--debug")) continue; // --debug asks for the stack
    try {
      const options = parseCliArgs(argv);
      if (options.command === "connect" || options.command === "listen") {
        new Connector(options.connector);
      }
    } catch {
      samples.push(argv); // a usage error: the CLI must exit 2 at once
    }
  }
  assertEquals(Deno.env.get("TRANSFER_SECRET"), undefined);
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const importMap = new URL("../offline/import_map.json", import.meta.url)
    .pathname;
  const run = async (argv: string[]) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        `--import-map=${importMap}`,
        "--allow-env=TRANSFER_SECRET",
        cli,
        ...argv,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    try {
      const { code, stdout, stderr } = await child.output();
      return {
        code,
        stdout: new TextDecoder().decode(stdout),
        stderr: new TextDecoder().decode(stderr),
      };
    } finally {
      clearTimeout(killer);
    }
  };
  const failures: string[] = [];
  for (let index = 0; index < samples.length; index += 4) {
    const batch = samples.slice(index, index + 4);
    const results = await Promise.all(batch.map(run));
    results.forEach(({ code, stdout, stderr }, offset) => {
      const argv = JSON.stringify(batch[offset]);
      const lines = stderr.split("\n").filter((line) => line !== "");
      if (code !== 2) failures.push(`${argv}: exit ${code}: ${stderr}`);
      else if (lines.length !== 1) {
        failures.push(`${argv}: ${lines.length} lines: ${stderr}`);
      } else if (/^\s+at /m.test(stderr)) {
        failures.push(`${argv}: a stack trace: ${stderr}`);
      } else if (stdout !== "") failures.push(`${argv}: stdout: ${stdout}`);
    });
  }
  assertEquals(failures, [], failures.join("\n"));
});
