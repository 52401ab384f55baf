/**
 * File access with errors that say which file, what it was for and which flag
 * is missing: `--allow-read=<path>` / `--allow-write=<path>` on a denial, "no
 * such file" when it does not exist, the original class otherwise.
 *
 * @module
 */
import { withContext } from "./_errors.ts";
import { missingPermissionError } from "./permissions.ts";

/**
 * Runs a file operation on `path`, turning its failures into errors that name
 * the file and what it is (`"the certificate file"`, `"--send file"`).
 *
 * @param access Whether the operation reads or writes the file.
 * @param what What the file is, for messages.
 * @param path The file.
 * @param operation The operation, e.g. `() => Deno.readFile(path)`.
 */
export async function accessFile<T>(
  access: "read" | "write",
  what: string,
  path: string,
  operation: () => Promise<T>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw missingPermissionError([{ name: access, path }], error);
    }
    const context = `Cannot ${access} ${what} "${path}"`;
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`${context}: no such file`, {
        cause: error,
      });
    }
    throw withContext(error, context);
  }
}
