/**
 * Sets up one connection with the {@linkcode Connector} options given as JSON
 * in the first argument, then pings the counterpart (the parent test). A
 * passive connector prints `listening <address as JSON>` once it listens.
 *
 * Run: `deno run --no-prompt <flags> connector_peer.ts '{"host":"127.0.0.1","port":7000}'`
 *
 * @module
 */
import { Connector, type ConnectorOptions } from "../../mod.ts";
import { pingPong, runChild } from "./_child.ts";

await runChild(async () => {
  const options = JSON.parse(Deno.args[0]) as ConnectorOptions;
  await using connector = new Connector(options);
  if (connector.mode === "passive") {
    const address = await connector.listen();
    console.log(`listening ${JSON.stringify(address)}`);
  }
  await pingPong(await connector.connect());
});
