/**
 * A "Deploy-style" client: an active TLS connection that needs nothing but
 * `--allow-net=<host>:<port>`. The CA certificate arrives as PEM text in an
 * argument, so no file is read and no environment variable or system
 * information is looked at.
 *
 * Run: `deno run --no-prompt --allow-net=localhost:7000 deploy_style.ts localhost 7000 "$(cat ca.pem)"`
 *
 * @module
 */
import { Connector } from "../../mod.ts";
import { pingPong, runChild } from "./_child.ts";

await runChild(async () => {
  const [host, port, caCertificate] = Deno.args;
  const connector = new Connector({
    host,
    port: Number(port),
    tls: { caCerts: [caCertificate] },
    timeout: 30_000,
  });
  await pingPong(await connector.connect());
});
