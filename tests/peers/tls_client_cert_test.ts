/**
 * The client certificate of the TLS option, checked by a TLS server nobody
 * here wrote: `openssl s_server -Verify 1` prints the subject it verified.
 * (In tests/peers/: it needs openssl on PATH, which the hermetic suite does
 * not.)
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { Connector } from "../../mod.ts";
import { fixture, writeAll } from "../_helpers.ts";
import { FIXTURES, opensslServerArgs } from "./_peers.ts";

const ca = fixture("ca.pem");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("peers: Connector over TLS sends a client certificate that openssl s_server verifies", async () => {
  using probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const openssl = new Deno.Command("openssl", {
    args: opensslServerArgs(
      port,
      "-CAfile",
      `${FIXTURES}ca.pem`,
      "-Verify",
      "1",
    ),
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  try {
    const active = new Connector({
      host: "127.0.0.1",
      port,
      timeout: 10_000,
      retry: { attempts: 100, delay: 20, maxDelay: 100 },
      tls: {
        caCerts: [ca],
        certFile: `${FIXTURES}client.pem`,
        keyFile: `${FIXTURES}client.key.pem`,
      },
    });
    assertEquals(active.permissions, [
      { name: "net", host: `127.0.0.1:${port}` },
      { name: "read", path: `${FIXTURES}client.pem` },
      { name: "read", path: `${FIXTURES}client.key.pem` },
    ]);
    using client = await active.connect();
    await writeAll(client, encoder.encode("hello\n"));
  } finally {
    const timer = setTimeout(() => openssl.kill(), 5000);
    const output = await openssl.output();
    clearTimeout(timer);
    const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
    assertStringIncludes(text, "depth=0 CN = transfer-connect client");
  }
});
