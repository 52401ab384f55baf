/**
 * SIGINT, SIGTERM and SIGHUP as an `AbortSignal`: while a
 * {@linkcode SignalWatch} is alive the default action (dying at once, leaving
 * a unix socket file behind and reporting nothing) is replaced by an abort
 * that the CLI turns into a clean stop and the exit code 128 + signal number.
 *
 * @module
 */

/** The signals the CLI stops on, with their exit codes (128 + number). */
export const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
};

/** The reason of the abort: which signal arrived. */
export class SignalInterrupt extends Error {
  /** `"SIGINT"`, `"SIGTERM"` or `"SIGHUP"`. */
  readonly signalName: Deno.Signal;
  /** 130, 143 or 129. */
  readonly exitCode: number;

  /** @param signalName The signal that arrived. */
  constructor(signalName: Deno.Signal) {
    super(`interrupted by ${signalName}`);
    this.name = "SignalInterrupt";
    this.signalName = signalName;
    this.exitCode = SIGNAL_EXIT_CODES[signalName];
  }
}

/** Listens for the stop signals until disposed. */
export class SignalWatch implements Disposable {
  readonly #controller = new AbortController();
  readonly #listeners: [Deno.Signal, () => void][] = [];

  /** Installs the listeners. */
  constructor() {
    for (const name of Object.keys(SIGNAL_EXIT_CODES) as Deno.Signal[]) {
      const listener = () => {
        if (!this.#controller.signal.aborted) {
          this.#controller.abort(new SignalInterrupt(name));
        }
      };
      try {
        Deno.addSignalListener(name, listener);
        this.#listeners.push([name, listener]);
      } catch {
        // Not supported on this platform (Windows has SIGINT only).
      }
    }
  }

  /** Aborts with a {@linkcode SignalInterrupt} when a signal arrives. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The signal that arrived, if one did. */
  get interrupt(): SignalInterrupt | undefined {
    const reason = this.#controller.signal.reason;
    return reason instanceof SignalInterrupt ? reason : undefined;
  }

  /** Restores the default actions. */
  [Symbol.dispose](): void {
    for (const [name, listener] of this.#listeners.splice(0)) {
      Deno.removeSignalListener(name, listener);
    }
  }
}
