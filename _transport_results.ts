/**
 * Checks on what a custom {@linkcode ConnectorTransport} hands back: a
 * connector must never pass on, or wait on, something that is not a
 * connection or a listener.
 *
 * @module
 */
import { closeQuietly } from "./_abort.ts";

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name !== undefined && name !== "Object"
      ? `a ${name}`
      : "a plain object";
  }
  return typeof value === "string" ? `the string "${value}"` : String(value);
}

function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return names.every((name) => typeof record[name] === "function");
}

/** Releases a wrong result if it looks like a resource. */
function release(value: unknown): void {
  if (hasMethods(value, ["close"])) closeQuietly(value as { close(): void });
}

/**
 * Returns `value` if it is a `Deno.Conn` (read, write, close, closeWrite and
 * both addresses); otherwise releases it and throws a `TypeError` naming the
 * transport method that returned it.
 */
export function checkedConn(value: unknown, method: string): Deno.Conn {
  if (
    hasMethods(value, ["read", "write", "close", "closeWrite"]) &&
    typeof (value as Deno.Conn).localAddr === "object" &&
    typeof (value as Deno.Conn).remoteAddr === "object"
  ) {
    return value as Deno.Conn;
  }
  release(value);
  return throwNotA("Deno.Conn", value, `${method} resolved`);
}

/**
 * Returns `value` if it is a `Deno.Listener` (accept, close, addr);
 * otherwise releases it and throws a `TypeError` naming the transport method
 * that returned it.
 */
export function checkedListener(value: unknown, method: string): Deno.Listener {
  if (
    hasMethods(value, ["accept", "close"]) &&
    typeof (value as Deno.Listener).addr === "object" &&
    (value as Deno.Listener).addr !== null
  ) {
    return value as Deno.Listener;
  }
  release(value);
  return throwNotA("Deno.Listener", value, `${method} returned`);
}

function throwNotA(kind: string, value: unknown, method: string): never {
  throw new TypeError(
    `The transport's ${method} ${
      describe(value)
    }, not a ${kind}: a custom transport must resolve a ${kind} (as Deno.${
      kind === "Deno.Conn" ? "connect" : "listen"
    }() does)`,
  );
}
