/**
 * The forgotten `--tls` against TLS peers nobody here wrote: a plain
 * `connect` to `ncat --ssl -l` and plain `listen`s reached by `openssl
 * s_client` and `ncat --ssl` exit 1 naming `--tls`, with nothing of the TLS
 * records on stdout. (`openssl s_server` answers plain bytes with no alert
 * and a clean end of stream: a plain `connect` cannot tell it from a peer that
 * only receives; see the report of issue 22.)
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import {
  cli,
  FIXTURES,
  freePort,
  listenPort,
  tool,
  waitListening,
  workspace,
} from "./_peers.ts";

Deno.test("peers: a plain connect to ncat --ssl -l exits 1 and names --tls", async () => {
  await using space = await workspace(64 * 1024);
  const port = freePort();
  await using _server = tool("ncat", [
    "--ssl",
    "--ssl-cert",
    `${FIXTURES}localhost.pem`,
    "--ssl-key",
    `${FIXTURES}localhost.key.pem`,
    "-l",
    "127.0.0.1",
    String(port),
  ]);
  await waitListening(port);
  await using client = cli(["127.0.0.1", String(port), "--send", space.data]);
  const result = await client.finished();
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "add --tls");
  assertEquals(result.stdout, "");
});

const TLS_CLIENTS: [string, (port: number) => [string, string[]]][] = [
  [
    "openssl s_client",
    (port) => ["openssl", [
      "s_client",
      "-quiet",
      "-connect",
      `127.0.0.1:${port}`,
      "-CAfile",
      `${FIXTURES}ca.pem`,
    ]],
  ],
  [
    "ncat --ssl",
    (port) => ["ncat", ["--ssl", "127.0.0.1", String(port)]],
  ],
];

for (const [name, command] of TLS_CLIENTS) {
  Deno.test(`peers: a plain listen reached by ${name} exits 1, names --tls, and writes none of the ClientHello`, async () => {
    await using listener = cli(["listen", "--host", "127.0.0.1"]);
    const port = await listenPort(listener);
    const [program, args] = command(port);
    await using _client = tool(program, args);
    const result = await listener.finished();
    assertEquals(result.code, 1, result.stderr);
    assertStringIncludes(result.stderr, "started a TLS handshake");
    assertStringIncludes(result.stderr, "add --tls");
    assertEquals(result.stdout, "");
  });
}
