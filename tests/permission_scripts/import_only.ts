/**
 * Imports the module and constructs connectors of every kind, to be run with
 * no permission at all: prints, as JSON, each connector's permissions and
 * flags, and what `queryPermissions()` reports. PEM texts come as arguments:
 * the CA, a certificate and its key.
 *
 * @module
 */
import { Connector, permissionFlags } from "../../mod.ts";
import { everyKindOfConnector } from "./_every_kind.ts";

const [ca, cert, key] = Deno.args;
const report: Record<string, unknown> = {};
for (
  const [label, options] of Object.entries(
    everyKindOfConnector({ ca, cert, key }),
  )
) {
  const connector = new Connector(options);
  report[label] = {
    permissions: connector.permissions,
    flags: permissionFlags(connector.permissions),
    states: connector.queryPermissions().map((entry) => entry.state),
  };
}
console.log(JSON.stringify(report));
