/**
 * The likeliest mistakes exit 1 and name the flag: a plain `connect` to a TLS
 * listener (`--tls` forgotten), a plain `connect` to a code listener
 * (`--code` forgotten), a `--tls` peer of a plain listener; none of what the
 * wrong peer sent reaches stdout. Real CLIs over loopback.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { classifyFirstBytes } from "../cli/wrong_peer.ts";
import { fixturePath } from "./_helpers.ts";
import { Cli, listening, runCli, tempDir } from "./_cli.ts";

const encoder = new TextEncoder();
const TLS_LISTEN = [
  "--tls",
  "--cert",
  fixturePath("localhost.pem"),
  "--key",
  fixturePath("localhost.key.pem"),
];

Deno.test("cli: a plain connect to a TLS listener exits 1, names --tls, and writes nothing to stdout", async () => {
  await using dir = await tempDir();
  const small = `${dir}/small.txt`;
  await Deno.writeTextFile(small, "small\n");
  const { cli: listener, port } = await listening([
    "--host",
    "127.0.0.1",
    ...TLS_LISTEN,
  ]);
  await using _ = listener;
  // The short form (connect HOST PORT), as a newcomer types it.
  const result = await runCli(["127.0.0.1", String(port), "--send", small]);
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "TLS alert");
  assertStringIncludes(result.stderr, "add --tls");
  assertEquals(result.stdout.length, 0, "the alert is not data");
});

Deno.test("cli: a plain connect to a code listener exits 1, names --code, and the notice is not on stdout", async () => {
  const { cli: listener, port } = await listening([
    "--host",
    "127.0.0.1",
    "--code",
  ]);
  await using _ = listener;
  await using intruder = new Cli(["127.0.0.1", String(port)], {
    stdin: "piped",
  });
  await intruder.feed(encoder.encode("data meant for a plain listener\n"));
  const result = await intruder.result();
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "expects a code: add --code");
  assertEquals(
    result.stdout.length,
    0,
    new TextDecoder().decode(result.stdout),
  );
});

Deno.test("cli: a plain listener whose peer connects with --tls exits 1 and names --tls", async () => {
  const { cli: listener, port } = await listening(["--host", "127.0.0.1"]);
  await using _ = listener;
  const client = await runCli([
    "127.0.0.1",
    String(port),
    "--tls",
    "--ca",
    fixturePath("ca.pem"),
  ]);
  assertEquals(client.code, 1, client.stderr);
  const result = await listener.result();
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "started a TLS handshake");
  assertStringIncludes(result.stderr, "add --tls");
  assertEquals(result.stdout.length, 0, "the ClientHello is not data");
});

Deno.test("cli: data that merely starts like a TLS record or the notice still arrives byte-exact", async () => {
  for (
    const data of [
      Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x03, 1, 2, 3), // length 3: no alert
      Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 0, 0), // no ClientHello
      Uint8Array.of(0x15), // one byte, then the end
      encoder.encode("@transfer/connect: this listener"), // cut short
    ]
  ) {
    const { cli: listener, port } = await listening(["--host", "127.0.0.1"]);
    await using _ = listener;
    await using sender = new Cli(["127.0.0.1", String(port)], {
      stdin: "piped",
    });
    await sender.feed(data);
    const [received, sent] = await Promise.all([
      listener.result(),
      sender.result(),
    ]);
    assertEquals([received.code, sent.code], [0, 0], received.stderr);
    assertEquals(received.stdout, data);
  }
});

Deno.test("classifyFirstBytes waits for a whole TLS header and the whole notice before it decides", () => {
  const alert = Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32);
  for (let length = 1; length < 5; length++) {
    assertEquals(classifyFirstBytes(alert.subarray(0, length)), "undecided");
  }
  assertEquals(classifyFirstBytes(alert), "alert");
  assertEquals(
    classifyFirstBytes(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01)),
    "client-hello",
  );
  assertEquals(classifyFirstBytes(encoder.encode("GET / HTTP/1.1")), "data");
});
