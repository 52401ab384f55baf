/**
 * Asks for the code on the terminal (`connect HOST PORT --code` without a
 * value), as `wormhole receive` does, so that the code never shows in the
 * process list: the prompt goes to stderr, what is typed is not echoed, and a
 * code that does not parse is asked for again.
 *
 * @module
 */
import { normalizeCode } from "./code.ts";
import { writeStderr } from "./events.ts";
import { UsageError } from "./flags.ts";

/** The user pressed Ctrl-C or Ctrl-D at the prompt: the CLI exits with 130. */
export class PromptInterrupted extends Error {
  /** @param message What was interrupted. */
  constructor(message: string) {
    super(message);
    this.name = "PromptInterrupted";
  }
}

/** Attempts before giving up on codes that do not parse. */
const ATTEMPTS = 3;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const BACKSPACES = [0x08, 0x7f];

/**
 * Shows `prompt` and reads one line from the terminal on stdin, which is in
 * raw mode: nothing is echoed, Ctrl-C arrives as a byte.
 */
async function readHiddenLine(prompt: string): Promise<string> {
  const typed: number[] = [];
  const buffer = new Uint8Array(64);
  writeStderr(prompt);
  try {
    while (true) {
      const count = await Deno.stdin.read(buffer);
      if (count === null) {
        throw new PromptInterrupted("stdin ended at the prompt");
      }
      for (const byte of buffer.subarray(0, count)) {
        if (byte === 0x0d || byte === 0x0a) {
          return new TextDecoder().decode(new Uint8Array(typed));
        }
        if (byte === CTRL_C) {
          throw new PromptInterrupted("Ctrl-C at the prompt");
        }
        if (byte === CTRL_D && typed.length === 0) {
          throw new PromptInterrupted("Ctrl-D at the prompt");
        }
        if (BACKSPACES.includes(byte)) typed.pop();
        else if (byte === CTRL_U) typed.length = 0;
        else if (byte >= 0x20) typed.push(byte);
      }
    }
  } finally {
    writeStderr("\r\n");
  }
}

/**
 * Asks for the code until one parses (at most three times).
 *
 * @returns The code in its canonical form.
 * @throws {UsageError} After three codes that do not parse.
 * @throws {PromptInterrupted} On Ctrl-C, or Ctrl-D before anything was typed.
 */
export async function promptForCode(): Promise<string> {
  // Raw from before the first prompt to after the last answer: nothing typed
  // is ever echoed, not even between two attempts.
  Deno.stdin.setRaw(true);
  try {
    for (let attempt = 1;; attempt++) {
      const typed = await readHiddenLine(
        "code (the listener printed it; typing is not shown): ",
      );
      try {
        return normalizeCode(typed);
      } catch (error) {
        if (!(error instanceof UsageError) || attempt === ATTEMPTS) throw error;
        writeStderr(`connect: ${error.message}\r\n`);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
  }
}
