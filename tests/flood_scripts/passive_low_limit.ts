/**
 * A passive connector with a secret, run by tests/flood_test.ts under a low
 * descriptor limit (`ulimit -n`): prints `{"port":N}` once listening, then,
 * when a counterpart got through, `{"ok":true,...}` with the counters.
 *
 * @module
 */
import { Connector } from "../../mod.ts";

const [secret, handshakeTimeout] = Deno.args;
await using passive = new Connector({
  mode: "passive",
  host: "127.0.0.1",
  secret,
  handshakeTimeout: Number(handshakeTimeout),
  timeout: 30_000,
});
const { port } = await passive.listen() as Deno.NetAddr;
console.log(JSON.stringify({ port }));
try {
  using conn = await passive.connect();
  const byte = new Uint8Array(1);
  await conn.read(byte);
  await conn.write(byte);
  console.log(JSON.stringify({
    ok: true,
    descriptorShortages: passive.descriptorShortages,
    rejectedPeers: passive.rejectedPeers,
  }));
} catch (error) {
  console.log(JSON.stringify({
    ok: false,
    error: String(error),
    descriptorShortages: passive.descriptorShortages,
  }));
  Deno.exitCode = 1;
}
