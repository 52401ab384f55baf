/**
 * The data part of a command line: where bytes come from and go
 * (`--send`, `--recv`, `--send-only`, `--recv-only`), how the streams end
 * (`--no-half-close`, `--confirm`) and how the run is reported (`--json`,
 * `--progress`, `--quiet`).
 *
 * @module
 */
import { type Flags, UsageError } from "./flags.ts";

/** How progress is shown on stderr. */
export type ProgressMode = "auto" | "always" | "never";

/** The data and reporting flags, checked against each other. */
export interface DataFlags {
  /** `--send FILE`: the input instead of stdin. */
  send?: string;
  /** `--recv FILE`: the output instead of stdout. */
  recv?: string;
  /** `--force`: `--recv FILE` may replace an existing file. */
  force: boolean;
  /** `--send-only`: discard what the peer sends. */
  sendOnly: boolean;
  /** `--recv-only`: send nothing (stdin is not read). */
  recvOnly: boolean;
  /** `--json`: one JSON event per line on stderr. */
  json: boolean;
  /** `--progress` / `--quiet` / neither. */
  progress: ProgressMode;
  /** `--quiet`: no progress and no informational lines. */
  quiet: boolean;
  /** `--confirm`: the receiver confirms count and SHA-256 (both sides). */
  confirm: boolean;
  /** `--no-half-close`: keep our side open until the peer has ended its own. */
  halfClose: boolean;
}

/** Reads the data and reporting flags; contradictory pairs are usage errors. */
export function parseDataFlags(flags: Flags): DataFlags {
  const send = flags.value("send");
  const recv = flags.value("recv");
  const sendOnly = flags.flag("send-only");
  const recvOnly = flags.flag("recv-only");
  if (sendOnly && recvOnly) {
    throw new UsageError("give --send-only or --recv-only, not both");
  }
  if (send !== undefined && recvOnly) {
    throw new UsageError("--send cannot be combined with --recv-only");
  }
  if (recv !== undefined && sendOnly) {
    throw new UsageError("--recv cannot be combined with --send-only");
  }
  if (send !== undefined && send === recv) {
    throw new UsageError("--send and --recv name the same file");
  }
  if (flags.flag("no-half-close") && recvOnly) {
    throw new UsageError(
      "--no-half-close is implied by --recv-only (it never ends its side first)",
    );
  }
  if (flags.flag("force") && recv === undefined) {
    throw new UsageError("--force only applies to --recv FILE");
  }
  if (flags.flag("progress") && flags.flag("quiet")) {
    throw new UsageError("give --progress or --quiet, not both");
  }
  return {
    send,
    recv,
    force: flags.flag("force"),
    sendOnly,
    recvOnly,
    json: flags.flag("json"),
    progress: flags.flag("progress")
      ? "always"
      : flags.flag("quiet")
      ? "never"
      : "auto",
    quiet: flags.flag("quiet"),
    confirm: flags.flag("confirm"),
    halfClose: !flags.flag("no-half-close"),
  };
}
