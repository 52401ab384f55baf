/**
 * The active side's dial: retry while nobody listens yet, with exponential
 * backoff; dial with a client certificate (`Deno.connectTls`, the only call
 * that can send one), or secure a dialled TCP connection with
 * `Deno.startTls` (abortable, and the verified name may differ from the
 * address dialled) and complete the handshake inside `connect()`.
 *
 * @module
 */
import { closeQuietly, raceAbort, sleep } from "./_abort.ts";
import { completeHandshake, explainTlsError, type TlsOptions } from "./tls.ts";

/** How often and how fast an active connector dials again. */
export interface RetryPlan {
  /** Total attempts, the first included. */
  attempts: number;
  /** Milliseconds before the second attempt; doubles after each one. */
  delay: number;
  /** Upper bound for the wait between attempts. */
  maxDelay: number;
}

/**
 * Dials until connected, retrying while nobody listens yet: a refused TCP
 * port, or (`unix`) a socket file that does not exist yet. Any other error,
 * or the last attempt's, is passed to `fail` with how many tries it took
 * (`""` for one, `" (after 3 attempts)"`).
 */
export async function dialWithRetry(
  dial: () => Promise<Deno.Conn>,
  retry: RetryPlan,
  unix: boolean,
  signal: AbortSignal,
  fail: (error: unknown, tries: string) => unknown,
): Promise<Deno.Conn> {
  let delay = retry.delay;
  for (let attempt = 1;; attempt++) {
    try {
      return await dial();
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const refused = error instanceof Deno.errors.ConnectionRefused ||
        (unix && error instanceof Deno.errors.NotFound);
      if (!refused || attempt >= retry.attempts) {
        throw fail(error, attempt > 1 ? ` (after ${attempt} attempts)` : "");
      }
    }
    await sleep(delay, signal);
    delay = Math.min(delay * 2, retry.maxDelay);
  }
}

/** Whether the TLS material holds a client certificate and its key. */
export function hasClientCertificate(
  material: TlsOptions | undefined,
): boolean {
  return material?.cert !== undefined && material.key !== undefined;
}

/** Dials with `Deno.connectTls`, presenting the client certificate. */
export function dialWithCertificate(
  address: { hostname: string; port: number },
  material: TlsOptions,
  signal: AbortSignal,
): Promise<Deno.TlsConn> {
  return raceAbort(
    Deno.connectTls({
      hostname: address.hostname,
      port: address.port,
      caCerts: material.caCerts,
      alpnProtocols: material.alpnProtocols,
      cert: material.cert,
      key: material.key,
    }),
    signal,
    closeQuietly,
  );
}

/**
 * Completes the TLS handshake of `conn` as a client (starting TLS first on a
 * TCP connection), verifying `material.hostname` or else `hostname`. On
 * failure the connection is closed and the error explained in plain words.
 */
export async function secureClient(
  conn: Deno.Conn,
  material: TlsOptions,
  target: { endpoint: string; hostname: string },
  signal: AbortSignal,
): Promise<Deno.TlsConn> {
  const hostname = material.hostname ?? target.hostname;
  let tlsConn: Deno.TlsConn;
  if ("handshake" in conn) {
    tlsConn = conn as Deno.TlsConn;
  } else {
    const tcp = conn as Deno.TcpConn;
    tcp.setNoDelay(true);
    try {
      tlsConn = await Deno.startTls(tcp, {
        hostname,
        caCerts: material.caCerts,
        alpnProtocols: material.alpnProtocols,
      });
    } catch (error) {
      closeQuietly(tcp);
      throw explainTlsError(error, target.endpoint, hostname);
    }
  }
  try {
    await completeHandshake(tlsConn, signal);
    return tlsConn;
  } catch (error) {
    closeQuietly(tlsConn);
    if (signal.aborted) throw signal.reason;
    throw explainTlsError(error, target.endpoint, hostname);
  }
}
