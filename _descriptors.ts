/**
 * The process's file descriptors as Linux reports them: how many are open
 * (`/proc/self/fd`) and the limit (`RLIMIT_NOFILE`, the soft "Max open files"
 * of `/proc/self/limits`). A passive connector sizes its vetting queue from
 * the difference.
 *
 * Deno 2.9.6 lets a program read `/proc/self` only with `--allow-all`
 * (`--allow-read` is not enough: "Requires all access"), which a
 * {@linkcode Connector} never asks for: the count is taken only when every
 * permission is already granted, never with a prompt; otherwise, and on
 * systems without `/proc`, there is no count and the caller falls back to a
 * fixed size.
 *
 * @module
 */

/** Open descriptors and the limit on them, at one moment. */
export interface DescriptorCount {
  /** Descriptors open in this process. */
  open: number;
  /** The most this process may open (soft `RLIMIT_NOFILE`). */
  limit: number;
}

const PROC_SELF = "/proc/self";

/** Permissions which, all granted, mean that the program runs with `-A`. */
const EVERY_PERMISSION: readonly Deno.PermissionDescriptor[] = [
  { name: "read" },
  { name: "write" },
  { name: "net" },
  { name: "env" },
  { name: "sys" },
  { name: "run" },
  { name: "ffi" },
];

/**
 * Whether `/proc/self` may be read without asking (never prompts). Deno
 * 2.9.6 lets only `--allow-all` read `/proc/self` and `/proc/<pid>`
 * ("Requires all access"), even with `--allow-read`: so every permission
 * must be granted.
 */
function mayReadProcSelf(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return EVERY_PERMISSION.every((descriptor) =>
      Deno.permissions.querySync(descriptor).state === "granted"
    );
  } catch {
    return false;
  }
}

/** The soft "Max open files" of `/proc/self/limits`; undefined if unlimited or unreadable. */
function readDescriptorLimit(): number | undefined {
  const limits = Deno.readTextFileSync(`${PROC_SELF}/limits`);
  const line = limits.split("\n").find((row) =>
    row.startsWith("Max open files")
  );
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  const limit = Number(soft);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
}

/** How many entries `/proc/self/fd` lists (the directory's own descriptor included). */
function countOpenDescriptors(): number {
  let open = 0;
  for (const _entry of Deno.readDirSync(`${PROC_SELF}/fd`)) open++;
  return open;
}

/**
 * Counts this process's open descriptors and reads its limit, if the program
 * runs with every permission and the system has `/proc`.
 *
 * @returns The count, or `undefined` when it cannot be taken without asking.
 */
export function countDescriptors(): DescriptorCount | undefined {
  if (!mayReadProcSelf()) return undefined;
  try {
    const limit = readDescriptorLimit();
    if (limit === undefined) return undefined;
    return { open: countOpenDescriptors(), limit };
  } catch {
    // No /proc here, or no descriptor left to read it with.
    return undefined;
  }
}

/**
 * Whether `error` says that the process (EMFILE) or the system (ENFILE) has
 * no descriptor left: a temporary state that ends when descriptors are closed.
 */
export function isDescriptorExhaustion(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return code === "EMFILE" || code === "ENFILE" ||
    /\(os error 2[34]\)/.test(error.message);
}
