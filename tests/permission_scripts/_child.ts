/**
 * What every permission script does once it holds a connection, and how it
 * reports a failure: the parent test reads the outcome from the exit code and
 * the first line of stderr.
 *
 * @module
 */

/** Milliseconds a script waits for its counterpart's answer. */
export const EXCHANGE_TIMEOUT = 30_000;

/**
 * Proves the connection works both ways: writes `ping`, expects `pong`, prints
 * `ok` and closes the connection.
 */
export async function pingPong(conn: Deno.Conn): Promise<void> {
  const timer = setTimeout(() => {
    console.error("TimedOut: no pong from the counterpart");
    Deno.exit(2);
  }, EXCHANGE_TIMEOUT);
  try {
    await conn.write(new TextEncoder().encode("ping"));
    const answer = new Uint8Array(4);
    let filled = 0;
    while (filled < answer.length) {
      const count = await conn.read(answer.subarray(filled));
      if (count === null) break;
      filled += count;
    }
    const text = new TextDecoder().decode(answer.subarray(0, filled));
    if (text !== "pong") throw new Error(`expected "pong", got "${text}"`);
    console.log("ok");
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

/**
 * Runs `main` and, when it throws, prints `<error name>: <message>` to stderr
 * and exits with code 1.
 */
export async function runChild(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const name = error instanceof Error ? error.name : "Error";
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${name}: ${message}`);
    Deno.exit(1);
  }
}
