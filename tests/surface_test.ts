/**
 * The public surface and its documentation: `mod.ts` exports the documented
 * API by name, and no internal helper of the modules behind it; the README's
 * option table has a row for every option the constructor accepts.
 *
 * @module
 */
import { assertEquals, assertThrows } from "@std/assert";
import * as mod from "../mod.ts";

Deno.test("mod.ts exports exactly the documented values, none of the internal helpers", () => {
  // Not parseTlsOption, tlsFilePaths, completeHandshake, explainTlsError,
  // parseSecretOption, secretPermissions, resolveSecret...: `export *` did.
  assertEquals(Object.keys(mod).sort(), [
    "AuthenticationError",
    "Connector",
    "ConnectorUsedError",
    "EncryptedConn",
    "EncryptionMismatchError",
    "InvalidOptionError",
    "MAX_SECRET_FILE_SIZE",
    "NotAllowedError",
    "OptionRangeError",
    "QueueFullError",
    "adviceOf",
    "assertPermissionsGranted",
    "authenticate",
    "denoTransport",
    "formatAddr",
    "formatHostPort",
    "formatPermissionFlags",
    "permissionFlags",
    "proxyTransport",
    "queryPermissions",
    "readTlsFiles",
    "relayToken",
    "relayTransport",
    "requestPermissions",
  ]);
});

Deno.test("the README's option table has a row for every option new Connector() accepts", async () => {
  // The accepted names, as the constructor itself lists them.
  const error = assertThrows(
    () => new mod.Connector({ nonsense: 1 } as never),
    TypeError,
  );
  const names = error.message.split("expected one of ")[1].split(", ");
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const rows = [...readme.matchAll(/^\| `(\w+)` +\|/gm)].map((row) => row[1]);
  assertEquals(names.filter((name) => !rows.includes(name)), []);
});
