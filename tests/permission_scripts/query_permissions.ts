/**
 * Prints, as JSON, what `connector.queryPermissions()` reports for the
 * {@linkcode Connector} options given as JSON in the first argument: one
 * `{ flag, state }` per permission.
 *
 * @module
 */
import { Connector, type ConnectorOptions } from "../../mod.ts";

const connector = new Connector(JSON.parse(Deno.args[0]) as ConnectorOptions);
console.log(JSON.stringify(
  connector.queryPermissions().map(({ flag, state }) => ({ flag, state })),
));
