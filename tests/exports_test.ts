/**
 * The public surface: `mod.ts` exports the documented API by name, and no
 * internal helper of the modules behind it.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import * as mod from "../mod.ts";

Deno.test("mod.ts exports exactly the documented values, none of the internal helpers", () => {
  // Not parseTlsOption, tlsFilePaths, completeHandshake, explainTlsError,
  // parseSecretOption, secretPermissions, resolveSecret...: `export *` did.
  assertEquals(Object.keys(mod).sort(), [
    "Connector",
    "MAX_SECRET_FILE_SIZE",
    "assertPermissionsGranted",
    "authenticate",
    "denoTransport",
    "formatAddr",
    "formatHostPort",
    "formatPermissionFlags",
    "permissionFlags",
    "queryPermissions",
    "readTlsFiles",
    "requestPermissions",
  ]);
});
