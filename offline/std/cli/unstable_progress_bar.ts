/**
 * OFFLINE STAND-IN for `jsr:@std/cli/unstable-progress-bar` (see
 * offline/README.md): a `ProgressBar` that redraws one line on its writable
 * (stderr by default) every second until `stop()`, with the rules of
 * `@std/cli` 1.0.32 for the options this project uses (`styledData` and the
 * drawing options it never sets are left out). Not published.
 *
 * @module
 */

/** What the `formatter` callback receives on every redraw. */
export interface ProgressBarFormatter {
  /** Elapsed time as `mm:ss`. */
  styledTime: string;
  /** The bar itself, e.g. `###-------`. */
  progressBar: string;
  /** Elapsed milliseconds. */
  time: number;
  /** Elapsed milliseconds at the previous redraw. */
  previousTime: number;
  /** The current value. */
  value: number;
  /** The value at the previous redraw. */
  previousValue: number;
  /** The expected maximum. */
  max: number;
}

/** Options of {@linkcode ProgressBar} (the subset used here). */
export interface ProgressBarOptions {
  /** Where the bar is drawn; `Deno.stderr.writable` by default. */
  writable?: WritableStream<Uint8Array>;
  /** The expected maximum. */
  max: number;
  /** The starting value (default 0). */
  value?: number;
  /** Erase the line on `stop()` instead of ending it with a newline. */
  clear?: boolean;
  /**
   * Builds the line from a {@linkcode ProgressBarFormatter} (named `fmt`
   * before denoland/std#6707).
   */
  formatter?: (formatter: ProgressBarFormatter) => string;
}

const LINE_CLEAR = "\r\u001b[K";
const BAR_LENGTH = 50;

/** A progress line redrawn every second; advance it through `value`. */
export class ProgressBar {
  /** The current value. */
  value: number;
  /** The expected maximum. */
  max: number;
  #writer: WritableStreamDefaultWriter<string>;
  #piped: Promise<void>;
  #timer: ReturnType<typeof setInterval>;
  #start = Date.now();
  #previousTime = 0;
  #previousValue: number;
  #clear: boolean;
  #fmt: (formatter: ProgressBarFormatter) => string;

  /** Starts drawing at once and then every second. */
  constructor(options: ProgressBarOptions) {
    this.value = options.value ?? 0;
    this.max = options.max;
    this.#previousValue = this.value;
    this.#clear = options.clear ?? false;
    this.#fmt = options.formatter ??
      ((bar) =>
        `[${bar.styledTime}] [${bar.progressBar}] [${bar.value}/${bar.max}]`);
    const encoder = new TextEncoderStream();
    this.#piped = encoder.readable
      .pipeTo(options.writable ?? Deno.stderr.writable, { preventClose: true })
      .catch(() => clearInterval(this.#timer));
    this.#writer = encoder.writable.getWriter();
    this.#timer = setInterval(() => this.#draw(), 1000);
    this.#draw();
  }

  #draw(): Promise<void> {
    const time = Date.now() - this.#start;
    // As in @std/cli: 0 of 0 is NaN, and "#".repeat(NaN) is "" (no bar).
    const ratio = Math.min(Math.max(this.value / this.max, 0), 1);
    const filled = Math.trunc(ratio * BAR_LENGTH);
    const minutes = String(Math.trunc(time / 60000)).padStart(2, "0");
    const seconds = String(Math.trunc(time / 1000) % 60).padStart(2, "0");
    const line = this.#fmt({
      styledTime: `${minutes}:${seconds}`,
      progressBar: "#".repeat(filled) + "-".repeat(BAR_LENGTH - filled),
      time,
      previousTime: this.#previousTime,
      value: this.value,
      previousValue: this.#previousValue,
      max: this.max,
    });
    const value = this.value;
    return this.#writer.write(LINE_CLEAR + line).catch(() => {}).then(() => {
      this.#previousTime = time;
      this.#previousValue = value;
    });
  }

  /** Draws the last state, ends the line and stops the timer. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    try {
      if (this.#clear) await this.#writer.write(LINE_CLEAR);
      else {
        await this.#draw();
        await this.#writer.write("\n");
      }
      await this.#writer.close();
      await this.#piped;
    } catch {
      // The writable went away: nothing left to draw on.
    }
  }
}
