/**
 * What parsing a command line needs, gathered so that `cli.ts` loads it with
 * one dynamic import (each `import()` walks its module graph again).
 *
 * @module
 */
export * as args from "./args.ts";
export * as messages from "./messages.ts";
