/**
 * What a command that connects needs, the parser included, gathered so that
 * `cli.ts` loads it with one dynamic import (each `import()` walks its
 * module graph again).
 *
 * @module
 */
export * from "./_parse_modules.ts";
export * as library from "../mod.ts";
export * as code from "./code.ts";
export * as copy from "./copy.ts";
export * as events from "./events.ts";
export * as preflight from "./preflight.ts";
export * as signals from "./signals.ts";
export * as unixSocket from "./unix_socket.ts";
export * as prompt from "./prompt.ts";
export * as wrongPeer from "./wrong_peer.ts";
export * as internal from "../internal.ts";
