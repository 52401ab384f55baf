/**
 * Everything about a run that can be checked before the network: every
 * missing permission in one error, `--send` readable and not a directory,
 * `--recv` creatable in an existing directory, and `--send` and `--recv` not
 * the same file (device and inode).
 *
 * @module
 */
import {
  assertPermissionsGranted,
  type ConnectorPermission,
} from "../permissions.ts";
import { isAbsolute } from "@std/path/is-absolute";
import { normalize } from "@std/path/normalize";
import { resolve } from "@std/path/resolve";
import { accessFile } from "../internal.ts";
import { UsageError } from "./flags.ts";

/** The files of a run, opened before the network. */
export interface PreparedFiles extends AsyncDisposable {
  /** `--send FILE`, open for reading. */
  input?: Deno.FsFile;
  /** `--recv FILE`, open for writing, not yet truncated. */
  output?: Deno.FsFile;
  /** The size of `--send FILE` (for the progress bar). */
  expected?: number;
  /** Empties the output once connected (it is kept until then). */
  truncateOutput(): Promise<void>;
  /**
   * Keeps the output file even when the run fails before connecting (by
   * default a file this run created is removed then).
   */
  keepOutput(): void;
}

/**
 * Throws one `Deno.errors.NotCapable` naming every missing permission.
 *
 * @param descriptors Everything the run needs: the connector's, the files'.
 */
export function checkPermissions(
  descriptors: readonly ConnectorPermission[],
): void {
  assertPermissionsGranted(descriptors);
}

function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev !== null && a.ino !== null && a.dev === b.dev &&
    a.ino === b.ino;
}

function canRead(path: string): boolean {
  return Deno.permissions.querySync({ name: "read", path }).state ===
    "granted";
}

/** `path` made absolute without touching the file system (relative paths need the cwd). */
function lexicalAbsolute(path: string): string | undefined {
  if (!isAbsolute(path) && !canRead(".")) return undefined;
  return resolve(path);
}

/**
 * Whether `--recv` is the `--send` file: by device and inode when `--recv`
 * may be read (stat needs read access), else by resolved path.
 */
async function sameFileAs(
  send: string,
  sendInfo: Deno.FileInfo,
  recv: string,
  output: Deno.FsFile,
): Promise<boolean> {
  if (canRead(recv)) return sameFile(sendInfo, await output.stat());
  const recvPath = lexicalAbsolute(recv);
  if (recvPath === undefined) return normalize(send) === normalize(recv);
  let sendPath = lexicalAbsolute(send) ?? send;
  try {
    sendPath = await Deno.realPath(send);
  } catch {
    // Not allowed to resolve it: compare as written.
  }
  return normalize(sendPath) === normalize(recvPath);
}

/**
 * Opens `--recv FILE` without changing it. An existing regular file is
 * refused unless `force`; a device or a pipe (/dev/null, a FIFO) is taken as
 * it is.
 */
async function openOutput(
  path: string,
  force: boolean,
): Promise<{ file: Deno.FsFile; created: boolean }> {
  return await accessFile("write", "--recv file", path, async () => {
    try {
      const file = await Deno.open(path, { write: true, createNew: true });
      return { file, created: true };
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      return { file: await Deno.open(path, { write: true }), created: false };
    }
  }).then(async (opened) => {
    if (!opened.created && !force && (await opened.file.stat()).isFile) {
      opened.file.close();
      throw new UsageError(
        `--recv "${path}" already exists and was left as it is: give another file name, or add --force to replace it`,
      );
    }
    return opened;
  }, (error) => {
    if (error instanceof Deno.errors.NotFound) {
      const directory = path.includes("/")
        ? path.slice(0, path.lastIndexOf("/")) || "/"
        : ".";
      throw new Deno.errors.NotFound(
        `Cannot write --recv file "${path}": the directory "${directory}" does not exist`,
        { cause: error },
      );
    }
    throw error;
  });
}

/**
 * Opens `--send` and `--recv` before the network.
 *
 * @param send The `--send` path.
 * @param recv The `--recv` path.
 * @param force Whether `--recv` may replace an existing file (`--force`).
 * @returns The open files; dispose to close them.
 * @throws {UsageError} When both name the same file, or `--recv` names an
 * existing file without `force`.
 */
export async function prepareFiles(
  send: string | undefined,
  recv: string | undefined,
  force = false,
): Promise<PreparedFiles> {
  let input: Deno.FsFile | undefined;
  let output: Deno.FsFile | undefined;
  let created = false;
  let keep = false;
  let expected: number | undefined;
  try {
    let inputInfo: Deno.FileInfo | undefined;
    if (send !== undefined) {
      input = await accessFile(
        "read",
        "--send file",
        send,
        () => Deno.open(send),
      );
      inputInfo = await input.stat();
      if (inputInfo.isDirectory) {
        throw new Deno.errors.IsADirectory(
          `Cannot read --send file "${send}": it is a directory; give a file (for a directory, pipe tar into stdin)`,
        );
      }
      expected = inputInfo.isFile ? inputInfo.size : undefined;
    }
    if (recv !== undefined) {
      ({ file: output, created } = await openOutput(recv, force));
      if (send !== undefined && inputInfo !== undefined) {
        if (await sameFileAs(send, inputInfo, recv, output)) {
          throw new UsageError(
            `--send "${send}" and --recv "${recv}" are the same file`,
          );
        }
      }
    }
  } catch (error) {
    input?.close();
    output?.close();
    if (created && recv !== undefined) await Deno.remove(recv).catch(() => {});
    throw error;
  }
  return {
    input,
    output,
    expected,
    truncateOutput: async () => {
      keep = true;
      try {
        await output?.truncate(0);
      } catch (error) {
        // A device (/dev/null, /dev/full) cannot be truncated, nor need be.
        if ((error as { code?: string }).code !== "EINVAL") throw error;
      }
    },
    keepOutput: () => keep = true,
    async [Symbol.asyncDispose]() {
      for (const file of [input, output]) {
        try {
          file?.close();
        } catch {
          // Already closed.
        }
      }
      if (created && !keep && recv !== undefined) {
        await Deno.remove(recv).catch(() => {});
      }
    },
  };
}
