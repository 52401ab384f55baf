/**
 * What the CLI tells its user on stderr (stdout carries data only): readable
 * lines, a progress line drawn with `@std/cli`'s `ProgressBar`, or, with
 * `--json`, one JSON event per line (`listening`, `code`, `rejected`, `connected`,
 * `progress`, `done`, `error`).
 *
 * @module
 */
import {
  ProgressBar,
  type ProgressBarFormatter,
} from "@std/cli/unstable-progress-bar";
import { TurnedAway } from "./turned_away.ts";

/** How often, at most, turned-away peers are reported (milliseconds). */
const REJECTION_INTERVAL = 1000;

/** What `--confirm` proved, for the `done` report. */
export interface ConfirmedDigests {
  /** The peer, as shown in messages. */
  peer: string;
  /**
   * SHA-256 (hex) of the bytes sent, confirmed by the peer; absent over an
   * encrypted stream, whose records authenticate every byte.
   */
  sentSha256?: string;
  /** SHA-256 (hex) of the bytes received and written; absent likewise. */
  receivedSha256?: string;
}

/** Where the reporter writes one line (without its newline). */
export type LineWriter = (line: string) => void;

/** Options of a {@linkcode Reporter}. */
export interface ReporterOptions {
  /** One JSON event per line instead of readable lines. */
  json?: boolean;
  /** Draw the progress line during the transfer. */
  progress?: boolean;
  /** Leave out informational lines (`connected`, `done`). */
  quiet?: boolean;
  /** Where lines go; stderr by default. */
  write?: LineWriter;
  /** Where the progress line is drawn; stderr by default. */
  progressWritable?: WritableStream<Uint8Array>;
}

const encoder = new TextEncoder();

/** Writes `text` to stderr, all of it, before returning. */
export function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    offset += Deno.stderr.writeSync(bytes.subarray(offset));
  }
}

/** Writes one line to stderr, all of it. */
export function writeStderrLine(line: string): void {
  writeStderr(line + "\n");
}

/**
 * Formats a byte count with binary units: `0 B`, `1.5 KiB`, `64.0 MiB`.
 *
 * @example Usage
 * ```ts
 * import { formatBytes } from "./events.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(formatBytes(1536), "1.5 KiB");
 * ```
 *
 * @param bytes A byte count.
 * @returns The count in a readable unit.
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Formats a rate in the binary units of {@linkcode formatBytes}: `12.5 MiB/s`.
 *
 * @example Usage
 * ```ts
 * import { formatRate } from "./events.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(formatRate(3 * 1024 * 1024, 2000), "1.5 MiB/s");
 * ```
 *
 * @param bytes Bytes moved.
 * @param milliseconds In this many milliseconds.
 * @returns The rate, or `-` before any time has passed.
 */
export function formatRate(bytes: number, milliseconds: number): string {
  if (milliseconds <= 0) return "-";
  const perSecond = bytes / (milliseconds / 1000);
  return perSecond < 1024
    ? `${perSecond.toFixed(1)} B/s`
    : `${formatBytes(perSecond)}/s`;
}

/** Reports setup and transfer events on stderr in the chosen style. */
export class Reporter {
  /** Bytes written to the peer so far. */
  sent = 0;
  /** Bytes received from the peer so far. */
  received = 0;
  #json: boolean;
  #progress: boolean;
  #quiet: boolean;
  #write: LineWriter;
  #progressWritable: WritableStream<Uint8Array> | undefined;
  #bar: ProgressBar | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #started = performance.now();
  #turnedAway = new TurnedAway();
  #rejectionTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param options Style and destination.
   */
  constructor(options: ReporterOptions = {}) {
    this.#json = options.json ?? false;
    this.#progress = options.progress ?? false;
    this.#quiet = options.quiet ?? false;
    this.#write = options.write ?? writeStderrLine;
    this.#progressWritable = options.progressWritable;
  }

  #event(event: string, fields: Record<string, unknown>): void {
    this.#write(JSON.stringify({ event, ...fields }));
  }

  #info(line: string): void {
    if (!this.#quiet) this.#write(line);
  }

  /** The listener is bound (always reported: it carries the real port). */
  listening(address: string, port?: number): void {
    if (this.#json) this.#event("listening", { address, port });
    else this.#write(`listening on ${address}`);
  }

  /** Something the user should know before relying on the run (not with `--quiet`). */
  warning(message: string): void {
    if (this.#json) return this.#event("warning", { message });
    this.#info(`connect: warning: ${message}`);
  }

  /** Something the user should know that is not a problem (not with `--quiet`). */
  note(message: string): void {
    if (this.#json) return this.#event("note", { message });
    this.#info(`connect: note: ${message}`);
  }

  /** A code was made: the code and the command the counterpart runs. */
  code(
    code: string,
    counterpart: { command: string; installed: string; notes: string[] },
  ): void {
    if (this.#json) return this.#event("code", { code, ...counterpart });
    this.#write(`code: ${code}`);
    this.#write(
      "the counterpart runs this, then types the code when asked (tell the code only to them):",
    );
    this.#write(`  ${counterpart.command}`);
    this.#write(`  (with connect installed: ${counterpart.installed})`);
    for (const note of counterpart.notes) this.#write(`  (${note})`);
  }

  /**
   * A peer was turned away; shown even with `--quiet`: someone tried. The
   * first one after a quiet second is reported at once, with its reason; the
   * ones that follow within the second are counted and reported together at
   * its end (a `rejected` event with `count` and `reasons` with `--json`).
   */
  rejected(peer: string | undefined, reason: string): void {
    if (this.#rejectionTimer !== undefined) {
      this.#turnedAway.add(reason);
      return;
    }
    if (this.#json) this.#event("rejected", { peer, reason });
    else {
      this.#write(
        `turned away ${
          peer ?? "a peer"
        }: ${reason} (still waiting for the counterpart)`,
      );
    }
    this.#armRejectionTimer();
  }

  #armRejectionTimer(): void {
    this.#rejectionTimer = setTimeout(() => {
      this.#rejectionTimer = undefined;
      if (this.#reportTurnedAway()) this.#armRejectionTimer();
    }, REJECTION_INTERVAL);
    Deno.unrefTimer(this.#rejectionTimer);
  }

  /** Reports the peers counted since the last report; false when none. */
  #reportTurnedAway(): boolean {
    const tally = this.#turnedAway;
    if (tally.count === 0) return false;
    this.#turnedAway = new TurnedAway();
    if (this.#json) {
      this.#event("rejected", { count: tally.count, reasons: tally.byKind() });
    } else {
      this.#write(
        `turned away ${
          tally.describe(" in the last second")
        } (still waiting for the counterpart)`,
      );
    }
    return true;
  }

  /**
   * The connection is set up.
   *
   * @param local Our address.
   * @param remote The peer's address.
   * @param tls Whether TLS is on.
   * @param alpn The negotiated ALPN protocol, if any.
   */
  connected(
    local: string,
    remote: string,
    tls: boolean,
    alpn?: string | null,
  ): void {
    this.#started = performance.now();
    if (this.#json) {
      return this.#event("connected", {
        local,
        remote,
        tls,
        ...(alpn ? { alpn } : {}),
      });
    }
    if (this.#progress) {
      this.#info(
        `connected to ${remote}${
          tls ? ` (TLS${alpn ? `, ALPN ${alpn}` : ""})` : ""
        }`,
      );
    }
  }

  /**
   * Starts periodic progress: the progress line, or `progress` events every
   * second with `--json`.
   *
   * @param expected The bytes to send, when known (a file).
   */
  start(expected?: number): void {
    if (this.#progress) {
      this.#bar = new ProgressBar({
        max: expected ?? 0,
        writable: this.#progressWritable,
        formatter: (state) => this.#format(state, expected),
      });
    } else if (this.#json) {
      this.#timer = setInterval(() => {
        this.#event("progress", {
          sent: this.sent,
          received: this.received,
          seconds: this.#seconds(),
        });
      }, 1000);
    }
  }

  #seconds(): number {
    return Math.round(performance.now() - this.#started) / 1000;
  }

  #format(state: ProgressBarFormatter, expected: number | undefined): string {
    const elapsed = performance.now() - this.#started;
    const rate = formatRate(this.sent + this.received, elapsed);
    const sent = expected === undefined
      ? formatBytes(this.sent)
      : `${formatBytes(this.sent)}/${formatBytes(expected)}`;
    const bar = expected === undefined || expected === 0
      ? ""
      : ` [${state.progressBar}] ${
        Math.floor(Math.min(this.sent / expected, 1) * 100)
      }%`;
    return `[${state.styledTime}]${bar} sent ${sent}, received ${
      formatBytes(this.received)
    }, ${rate}`;
  }

  /** Updates the progress line's value. */
  #update(): void {
    if (this.#bar) this.#bar.value = this.sent;
  }

  /** Counts bytes that reached the peer. */
  addSent(bytes: number): void {
    this.sent += bytes;
    this.#update();
  }

  /** Counts bytes received from the peer. */
  addReceived(bytes: number): void {
    this.received += bytes;
  }

  /** Stops the progress line and the timer; safe to call more than once. */
  async stop(): Promise<void> {
    // Only when set: Deno 2.9.6 loads its timer module on a process's first
    // clearInterval (~10 ms), at the end of every run without a progress line.
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#rejectionTimer !== undefined) {
      clearTimeout(this.#rejectionTimer);
      this.#rejectionTimer = undefined;
      this.#reportTurnedAway();
    }
    const bar = this.#bar;
    this.#bar = undefined;
    if (bar) await bar.stop();
  }

  /**
   * The transfer completed: both streams ended cleanly.
   *
   * @param confirmed With `--confirm`: the peer, and the SHA-256 of the bytes
   * it confirmed writing and of the bytes written here.
   */
  async done(confirmed?: ConfirmedDigests): Promise<void> {
    await this.stop();
    const seconds = this.#seconds();
    if (this.#json) {
      return this.#event("done", {
        sent: this.sent,
        received: this.received,
        seconds,
        ...(confirmed === undefined ? {} : {
          confirmed: true,
          ...(confirmed.sentSha256 === undefined
            ? { authenticated: "records" }
            : {
              sentSha256: confirmed.sentSha256,
              receivedSha256: confirmed.receivedSha256,
            }),
        }),
        exitCode: 0,
      });
    }
    if (confirmed !== undefined) {
      if (this.sent > 0 || this.received === 0) {
        this.#info(
          `confirmed: ${confirmed.peer} wrote the ${this.sent} bytes sent, ${
            confirmed.sentSha256 === undefined
              ? "every record authenticated"
              : `SHA-256 ${confirmed.sentSha256}`
          }`,
        );
      }
      if (this.received > 0) {
        this.#info(
          `confirmed: ${this.received} bytes received and written, ${
            confirmed.receivedSha256 === undefined
              ? "every record authenticated"
              : `SHA-256 ${confirmed.receivedSha256}`
          }`,
        );
      }
    }
    if (this.#progress) {
      this.#info(
        `done: sent ${formatBytes(this.sent)}, received ${
          formatBytes(this.received)
        } in ${seconds.toFixed(2)} s`,
      );
    }
  }

  /**
   * Something failed: one line (and the stack with `--debug`).
   *
   * @param message What happened.
   * @param exitCode The exit code.
   * @param stack The stack trace, with `--debug`.
   * @param signal The signal that stopped the run, if one did.
   */
  async error(
    message: string,
    exitCode: number,
    stack?: string,
    signal?: string,
  ): Promise<void> {
    await this.stop();
    if (this.#json) {
      return this.#event("error", {
        message,
        exitCode,
        sent: this.sent,
        received: this.received,
        ...(signal === undefined ? {} : { signal }),
        ...(stack === undefined ? {} : { stack }),
      });
    }
    this.#write(`connect: ${message}`);
    if (stack !== undefined) this.#write(stack);
  }
}
