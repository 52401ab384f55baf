/**
 * Issue 21, hermetic: the proxy option's checks, and SOCKS5 and HTTP CONNECT
 * on the wire against a scripted proxy (split replies, every address type
 * in BND.ADDR, the target's first bytes in the same write as the reply,
 * every SOCKS5 reply code, HTTP statuses, garbage, a stalled proxy, retry,
 * TLS and the secret exchange through it). The real proxies are in
 * tests/peers/proxy_test.ts.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Connector, proxyTransport } from "../mod.ts";
import { parseCliArgs, UsageError } from "../cli/args.ts";
import {
  freePort,
  LOCALHOST_TLS,
  readExactly,
  TEST_CA,
  writeAll,
} from "./_helpers.ts";
import {
  readCredentials,
  readGreeting,
  readHttpHead,
  readSocksRequest,
  relay,
  requestHost,
  scriptedProxy,
  socksReply,
  writeSplit,
} from "./_scripted_proxy.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PASSWORD = "s3cret-Pa55";
const TARGET = { host: "127.0.0.1", port: 9 };

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

/** Every message in an error's cause chain. */
function messages(error: unknown): string {
  const texts: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) {
    texts.push(current.message, String(current.stack));
  }
  return texts.join("\n");
}

/** Asserts a rejection's class, that it names `names`, and no password. */
async function assertFails(
  promise: Promise<unknown>,
  kind: ErrorClass,
  ...names: string[]
): Promise<Error> {
  const error = await assertRejects(() => promise, kind);
  for (const name of names) assertStringIncludes(error.message, name);
  assert(!messages(error).includes(PASSWORD), error.message);
  return error;
}

/** A SOCKS5 proxy script: user and password, then `after` on the tunnel. */
function socksScript(
  reply: Uint8Array,
  after: (conn: Deno.TcpConn) => Promise<void> = async () => {},
) {
  return async (conn: Deno.TcpConn) => {
    assertEquals(await readGreeting(conn), [0, 2]);
    await writeAll(conn, Uint8Array.of(5, 2));
    assertEquals(await readCredentials(conn), {
      username: "alice",
      password: PASSWORD,
    });
    await writeAll(conn, Uint8Array.of(1, 0));
    await readSocksRequest(conn);
    await writeAll(conn, reply);
    await after(conn);
  };
}

function socksUrl(port: number, scheme = "socks5") {
  return `${scheme}://alice:${PASSWORD}@127.0.0.1:${port}`;
}

// --- the option ------------------------------------------------------------

Deno.test("proxy: the accepted URL forms and the permissions each needs", () => {
  const net = (host: string): Deno.PermissionDescriptor => ({
    name: "net",
    host,
  });
  const cases: [string | URL, string, ReturnType<typeof net>[]][] = [
    ["socks5h://h.example:1080", "example.com", [net("h.example:1080")]],
    ["socks5://10.0.0.1:1080", "192.0.2.1", [net("10.0.0.1:1080")]],
    ["socks5://10.0.0.1:1080", "::1", [net("10.0.0.1:1080")]],
    [
      "socks5://10.0.0.1:1080",
      "example.com",
      [net("10.0.0.1:1080"), net("example.com")],
    ],
    ["http://u:p@proxy.example:3128", "example.com", [
      net("proxy.example:3128"),
    ]],
    ["http://proxy.example", "example.com", [net("proxy.example:80")]],
    [new URL("socks5h://[::1]:1080"), "example.com", [net("[::1]:1080")]],
  ];
  for (const [proxy, host, permissions] of cases) {
    const connector = new Connector({ host, port: 7000, proxy });
    assertEquals(connector.permissions, permissions, String(proxy));
  }
});

Deno.test("proxy: a rejected URL names what is accepted, and never the password", () => {
  const long = "x".repeat(256);
  const cases: [unknown, ErrorClass, string][] = [
    [`ftp://u:${PASSWORD}@h:1`, TypeError, 'scheme "ftp"'],
    [`https://u:${PASSWORD}@h:1`, TypeError, "TLS to the proxy"],
    [`socks4://u:${PASSWORD}@h:1`, TypeError, "SOCKS4"],
    [`socks5://u:${PASSWORD}@h`, TypeError, "no port"],
    [`socks5://u:${PASSWORD}@h:0`, RangeError, "port 0"],
    [`not a url ${PASSWORD}`, TypeError, "not a URL"],
    [`socks5://u:${PASSWORD}@h:1/path`, TypeError, "path"],
    [`socks5://u:${PASSWORD}@h:1?q`, TypeError, "query"],
    ["socks5://alice@h:1", TypeError, "both a user name and a password"],
    [`socks5://:${PASSWORD}@h:1`, TypeError, "both a user name"],
    [`socks5://u:${PASSWORD}${long}@h:1`, RangeError, "255 bytes"],
    [`http://a%3Ab:${PASSWORD}@h:1`, TypeError, "colon"],
    [`socks5://u:${PASSWORD}%zz@h:1`, TypeError, "percent-encoding"],
    [`socks5://u:${PASSWORD}@bad_host!:1`, TypeError, "no valid proxy host"],
    [42, TypeError, "expected a string or a URL"],
  ];
  for (const [proxy, kind, says] of cases) {
    const error = assertThrows(
      () => new Connector({ ...TARGET, proxy: proxy as string }),
      kind,
    );
    assertStringIncludes(error.message, says, String(proxy));
    assertStringIncludes(error.message, 'Invalid option "proxy"');
    assert(!error.message.includes(PASSWORD), error.message);
    assertEquals(error.cause, undefined);
    if (kind === TypeError && typeof proxy === "string") {
      assertStringIncludes(
        error.message,
        "socks5h://[user:password@]host:port",
      );
    }
  }
});

Deno.test("proxy: active side, TCP and the built-in transport only; no client certificate", () => {
  const proxy = socksUrl(1080);
  const cases: [Record<string, unknown>, string][] = [
    [{ mode: "passive", proxy }, "active connectors only"],
    [{ path: "/tmp/x.sock", proxy }, '"path"'],
    [{ ...TARGET, proxy, transport: { connect: Deno.connect } }, "transport"],
    [{ host: "fe80::1%eth0", port: 1, proxy }, "zone id"],
    [
      { ...TARGET, proxy, tls: { ...LOCALHOST_TLS, caCerts: [TEST_CA] } },
      "client certificate",
    ],
  ];
  for (const [options, says] of cases) {
    const error = assertThrows(() => new Connector(options), TypeError);
    assertStringIncludes(error.message, says);
    assertStringIncludes(error.message, 'Invalid option "proxy"');
    assert(!error.message.includes(PASSWORD));
  }
  // A CA and a name to verify are fine: TLS starts on the proxied socket.
  new Connector({ ...TARGET, proxy, tls: { caCerts: [TEST_CA] } });
});

Deno.test("proxy: the options echo the URL without its password", () => {
  const connector = new Connector({ ...TARGET, proxy: socksUrl(1080) });
  assertEquals(
    connector.options.proxy,
    "socks5://alice:[redacted]@127.0.0.1:1080",
  );
  const dump = JSON.stringify([connector.options, connector.permissions]) +
    Deno.inspect(connector, { depth: 10 });
  assert(!dump.includes(PASSWORD));
  assertEquals(
    proxyTransport(new URL(socksUrl(1, "http"))).url,
    "http://alice:[redacted]@127.0.0.1:1",
  );
});

// --- SOCKS5 on the wire ----------------------------------------------------

Deno.test("socks5: user and password, an IPv4 target, the real TcpConn, bytes both ways", async () => {
  let request: string | undefined;
  await using proxy = scriptedProxy(async (conn) => {
    await readGreeting(conn);
    await writeAll(conn, Uint8Array.of(5, 2));
    await readCredentials(conn);
    await writeAll(conn, Uint8Array.of(1, 0));
    const asked = await readSocksRequest(conn);
    request = `${asked.atyp} ${requestHost(asked)} ${asked.port}`;
    await writeAll(conn, socksReply(0));
    await writeAll(conn, await readExactly(conn, 4)); // echo
  });
  const connector = new Connector({
    host: "192.0.2.7",
    port: 4321,
    proxy: socksUrl(proxy.port),
  });
  using conn = await connector.connect();
  assert("setNoDelay" in conn, "a Deno.TcpConn, not a wrapper");
  await writeAll(conn, encoder.encode("ping"));
  assertEquals(decoder.decode(await readExactly(conn, 4)), "ping");
  assertEquals(request, "1 192.0.2.7 4321");
});

Deno.test("socks5: an IPv6 target is ATYP 4, a name is ATYP 3 with socks5h and resolved here with socks5", async () => {
  const seen: string[] = [];
  await using proxy = scriptedProxy(async (conn) => {
    assertEquals(await readGreeting(conn), [0]);
    await writeAll(conn, Uint8Array.of(5, 0));
    const asked = await readSocksRequest(conn);
    seen.push(`${asked.atyp} ${requestHost(asked)}`);
    await writeAll(conn, socksReply(0));
  });
  for (
    const [scheme, host] of [
      ["socks5", "::1"],
      ["socks5h", "localhost"],
      ["socks5", "localhost"],
      ["socks5h", "2001:db8::7"],
    ]
  ) {
    const connector = new Connector({
      host,
      port: 80,
      proxy: `${scheme}://127.0.0.1:${proxy.port}`,
    });
    (await connector.connect()).close();
  }
  assertEquals(seen.slice(0, 2), ["4 ::1", "3 localhost"]);
  assertMatch(seen[2], /^(1 127\.0\.0\.1|4 ::1)$/); // looked up on this side
  assertEquals(seen[3], "4 2001:db8::7");
});

for (const atyp of [1, 3, 4]) {
  Deno.test(`socks5: BND.ADDR of type ${atyp} followed in the same write by the target's first bytes: they reach the caller`, async () => {
    await using proxy = scriptedProxy(
      socksScript(new Uint8Array(), async (conn) => {
        const early = encoder.encode("EARLY-BYTES");
        const reply = socksReply(0, atyp, "a-rather-long-bound-name.example");
        await writeAll(conn, Uint8Array.of(...reply, ...early));
        await readExactly(conn, 1); // until the client is done
      }),
    );
    using conn = await new Connector({
      ...TARGET,
      proxy: socksUrl(proxy.port),
    }).connect();
    assertEquals(decoder.decode(await readExactly(conn, 11)), "EARLY-BYTES");
    await writeAll(conn, Uint8Array.of(0));
  });
}

Deno.test("socks5: replies split across reads (the method, the status, and the CONNECT reply inside each field) are read exactly", async () => {
  await using proxy = scriptedProxy(async (conn) => {
    await readGreeting(conn);
    await writeSplit(conn, Uint8Array.of(5, 2), [1]);
    await readCredentials(conn);
    await writeSplit(conn, Uint8Array.of(1, 0), [1]);
    await readSocksRequest(conn);
    // Cut inside VER REP RSV ATYP, after the name's length, inside the name
    // and inside the port.
    const reply = socksReply(0, 3, "split.example");
    await writeSplit(conn, reply, [1, 2, 1, 1, 5, 8, 1]);
    await writeAll(conn, encoder.encode("after"));
    await readExactly(conn, 1);
  });
  using conn = await new Connector({
    ...TARGET,
    proxy: socksUrl(proxy.port),
  }).connect();
  assertEquals(decoder.decode(await readExactly(conn, 5)), "after");
  await writeAll(conn, Uint8Array.of(0));
});

const SOCKS_FAILURES: [number, ErrorClass, string][] = [
  [1, Deno.errors.ConnectionAborted, "general failure"],
  [2, Deno.errors.PermissionDenied, "does not allow"],
  [3, Deno.errors.NetworkUnreachable, "target's network"],
  [4, Deno.errors.NetworkUnreachable, "target host"],
  [5, Deno.errors.ConnectionRefused, "refused by the target"],
  [6, Deno.errors.TimedOut, "TTL expired"],
  [7, Deno.errors.NotSupported, "CONNECT command"],
  [8, Deno.errors.NotSupported, "address type"],
  [9, Deno.errors.ConnectionAborted, "unassigned"],
  [255, Deno.errors.ConnectionAborted, "unassigned"],
];

Deno.test("socks5: every reply code is an error of its own class naming the target, the proxy and the code", async () => {
  for (const [code, kind, says] of SOCKS_FAILURES) {
    await using proxy = scriptedProxy(socksScript(socksReply(code)));
    const connector = new Connector({ ...TARGET, proxy: socksUrl(proxy.port) });
    await assertFails(
      connector.connect(),
      kind,
      `Cannot connect to 127.0.0.1:9: the SOCKS5 proxy 127.0.0.1:${proxy.port}`,
      says,
      `(SOCKS5 reply ${code})`,
    );
  }
});

Deno.test("socks5: no acceptable method, rejected credentials, a closed connection, an answer in HTTP", async () => {
  const cases: [
    (conn: Deno.TcpConn) => Promise<void>,
    ErrorClass,
    string,
    string?,
  ][] = [
    [
      async (conn) => {
        await readGreeting(conn);
        await writeAll(conn, Uint8Array.of(5, 0xff));
      },
      Deno.errors.PermissionDenied,
      "requires authentication",
      "none",
    ],
    [
      async (conn) => {
        await readGreeting(conn);
        await writeAll(conn, Uint8Array.of(5, 0xff));
      },
      Deno.errors.PermissionDenied,
      "accepts neither",
    ],
    [
      async (conn) => {
        await readGreeting(conn);
        await writeAll(conn, Uint8Array.of(5, 2));
        await readCredentials(conn);
        await writeAll(conn, Uint8Array.of(1, 1));
      },
      Deno.errors.PermissionDenied,
      'rejected the user name "alice"',
    ],
    [
      async (conn) => {
        await readGreeting(conn);
        await writeAll(conn, Uint8Array.of(5, 2));
        await readCredentials(conn); // and closes, as microsocks does
      },
      Deno.errors.PermissionDenied,
      "it closed the connection",
    ],
    [
      async (conn) => {
        await readGreeting(conn);
      },
      Deno.errors.UnexpectedEof,
      "closed the connection before choosing",
    ],
    [
      async (conn) => {
        await readGreeting(conn);
        await writeAll(conn, Uint8Array.of(5, 0));
        await readSocksRequest(conn);
        await writeAll(conn, Uint8Array.of(5, 0, 0));
      },
      Deno.errors.UnexpectedEof,
      "in the middle of its CONNECT reply",
    ],
    [
      async (conn) => {
        await readGreeting(conn);
        await writeAll(conn, Uint8Array.of(5, 0));
        await readSocksRequest(conn);
        await writeAll(conn, Uint8Array.of(5, 0, 0, 7, 0, 0, 0));
      },
      Deno.errors.InvalidData,
      "unknown address type 7",
    ],
    [
      async (conn) => {
        await readGreeting(conn);
        await writeAll(
          conn,
          encoder.encode("HTTP/1.1 400 Bad Request\r\n\r\n"),
        );
      },
      Deno.errors.InvalidData,
      "use an http:// proxy URL",
    ],
    [
      async (conn) => {
        await readGreeting(conn);
        await writeAll(conn, Uint8Array.of(5, 2));
      },
      Deno.errors.InvalidData,
      "not offered",
      "none",
    ],
  ];
  for (const [script, kind, says, credentials] of cases) {
    await using proxy = scriptedProxy(script);
    const url = credentials === "none"
      ? `socks5://127.0.0.1:${proxy.port}`
      : socksUrl(proxy.port);
    await assertFails(
      new Connector({ ...TARGET, proxy: url }).connect(),
      kind,
      `SOCKS5 proxy 127.0.0.1:${proxy.port}`,
      says,
    );
  }
});

// --- HTTP CONNECT on the wire ----------------------------------------------

Deno.test("http: the CONNECT request, its Host, Basic credentials, and an IPv6 target in brackets", async () => {
  const heads: string[] = [];
  await using proxy = scriptedProxy(async (conn) => {
    heads.push(await readHttpHead(conn));
    await writeAll(
      conn,
      encoder.encode("HTTP/1.1 200 Connection established\r\n\r\n"),
    );
  });
  for (const host of ["::1", "example.com"]) {
    const connector = new Connector({
      host,
      port: 443,
      proxy: `http://al%C3%AFce:${PASSWORD}@127.0.0.1:${proxy.port}`,
    });
    (await connector.connect()).close();
  }
  const basic = btoa(
    String.fromCharCode(...encoder.encode(`alïce:${PASSWORD}`)),
  );
  assertEquals(heads, [
    `CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nProxy-Authorization: Basic ${basic}\r\n\r\n`,
    `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic ${basic}\r\n\r\n`,
  ]);
});

Deno.test("http: any 2xx opens the tunnel, interim 1xx are skipped, and bytes after the head reach the caller", async () => {
  const replies = [
    "HTTP/1.0 200 OK\r\n\r\n",
    "HTTP/1.1 200\r\n\r\n",
    "HTTP/1.1 201 Created\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 299 Whatever\r\nProxy-agent: test\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
  ];
  for (const reply of replies) {
    await using proxy = scriptedProxy(async (conn) => {
      await readHttpHead(conn);
      // The reply and the target's first bytes in one write, as ncat does.
      await writeAll(conn, encoder.encode(`${reply}\r\nEARLY`));
      await readExactly(conn, 1);
    });
    using conn = await new Connector({
      ...TARGET,
      proxy: `http://127.0.0.1:${proxy.port}`,
    }).connect();
    assertEquals(decoder.decode(await readExactly(conn, 7)), "\r\nEARLY");
    await writeAll(conn, Uint8Array.of(0));
  }
});

Deno.test("http: a reply head split across reads, through its blank line every way, is read exactly", async () => {
  await using proxy = scriptedProxy(async (conn) => {
    await readHttpHead(conn);
    const head = encoder.encode(
      "HTTP/1.1 200 Connection established\r\nProxy-agent: split\r\n\r\n",
    );
    // Cut inside the status line, then through the blank line every way:
    // before "\r\n\r\n", after "\r", "\r\n" and "\r\n\r".
    const blank = head.length - 4;
    await writeSplit(conn, head, [5, 10, blank - 15, 1, 1, 1]);
    await writeAll(conn, encoder.encode("after"));
    await readExactly(conn, 1);
  });
  using conn = await new Connector({
    ...TARGET,
    proxy: `http://127.0.0.1:${proxy.port}`,
  }).connect();
  assertEquals(decoder.decode(await readExactly(conn, 5)), "after");
  await writeAll(conn, Uint8Array.of(0));
});

const HTTP_FAILURES: [string, ErrorClass, string][] = [
  [
    "407 Proxy Authentication Required",
    Deno.errors.PermissionDenied,
    "requires authentication",
  ],
  ["403 Forbidden", Deno.errors.PermissionDenied, "does not allow"],
  ["401 Unauthorized", Deno.errors.PermissionDenied, "does not allow"],
  ["404 Not Found", Deno.errors.NotFound, "does not know the target"],
  [
    "405 Method Not Allowed",
    Deno.errors.NotSupported,
    "does not support CONNECT",
  ],
  ["501 Not Implemented", Deno.errors.NotSupported, "does not support CONNECT"],
  ["408 Request Timeout", Deno.errors.TimedOut, "timed out"],
  [
    "500 Unable to connect",
    Deno.errors.ConnectionRefused,
    "could not connect to the target",
  ],
  [
    "502 Bad Gateway",
    Deno.errors.ConnectionRefused,
    "could not connect to the target",
  ],
  [
    "503 Service Unavailable",
    Deno.errors.ConnectionRefused,
    "could not connect",
  ],
  ["504 Gateway Timeout", Deno.errors.ConnectionRefused, "could not connect"],
  ["302 Found", Deno.errors.Http, "redirected"],
  ["400 Bad Request", Deno.errors.Http, "refused the CONNECT request"],
  ["418 I'm a teapot", Deno.errors.Http, "refused the CONNECT request"],
];

Deno.test("http: each failing status is an error of its class naming the target, the proxy and the status", async () => {
  for (const [status, kind, says] of HTTP_FAILURES) {
    await using proxy = scriptedProxy(async (conn) => {
      await readHttpHead(conn);
      await writeAll(
        conn,
        encoder.encode(
          `HTTP/1.1 ${status}\r\nContent-Length: 5\r\n\r\nbody!`,
        ),
      );
    });
    await assertFails(
      new Connector({
        ...TARGET,
        proxy: `http://u:${PASSWORD}@127.0.0.1:${proxy.port}`,
      }).connect(),
      kind,
      `Cannot connect to 127.0.0.1:9: the HTTP proxy 127.0.0.1:${proxy.port}`,
      says,
      `(HTTP ${status})`,
    );
  }
});

Deno.test("http: garbage, a closed connection, a cut head and an endless head are errors naming the proxy", async () => {
  const cases: [string, ErrorClass, string][] = [
    ["SSH-2.0-OpenSSH_9.2\r\n", Deno.errors.InvalidData, "does not speak HTTP"],
    ["\x05\x00", Deno.errors.InvalidData, "does not speak HTTP"],
    [
      "HTTP/1.1 2000 OK\r\n\r\n",
      Deno.errors.InvalidData,
      "does not speak HTTP",
    ],
    ["", Deno.errors.UnexpectedEof, "without answering"],
    [
      "HTTP/1.1 200 OK\r\nX-Cut",
      Deno.errors.InvalidData,
      "in the middle of its reply",
    ],
    [
      `HTTP/1.1 200 OK\r\nX: ${"y".repeat(17000)}`,
      Deno.errors.InvalidData,
      "longer than 16384 bytes",
    ],
  ];
  for (const [reply, kind, says] of cases) {
    await using proxy = scriptedProxy(async (conn) => {
      await readHttpHead(conn);
      try {
        await writeAll(conn, encoder.encode(reply));
      } catch {
        // The client gave up on an endless head.
      }
    });
    await assertFails(
      new Connector({
        ...TARGET,
        proxy: `http://127.0.0.1:${proxy.port}`,
      }).connect(),
      kind,
      `HTTP proxy 127.0.0.1:${proxy.port}`,
      says,
    );
  }
});

// --- time, cancellation and retry ------------------------------------------

/** A proxy that reads what it is sent and never answers, until the client closes. */
function stalledProxy(reached: PromiseWithResolvers<void>) {
  return scriptedProxy(async (conn) => {
    const buffer = new Uint8Array(1024);
    await conn.read(buffer);
    reached.resolve();
    while (await conn.read(buffer) !== null) {
      // Ignore everything until the client closes.
    }
  });
}

Deno.test("proxy: a stalled proxy: timeout, handshakeTimeout and the signal cover the proxy phase, and its socket is closed", async () => {
  for (const scheme of ["socks5h", "http"]) {
    {
      await using proxy = stalledProxy(Promise.withResolvers());
      await assertFails(
        new Connector({
          ...TARGET,
          proxy: `${scheme}://127.0.0.1:${proxy.port}`,
          timeout: 300,
        }).connect(),
        Deno.errors.TimedOut,
        "Timed out after 300 ms connecting to 127.0.0.1:9",
      );
    }
    {
      await using proxy = stalledProxy(Promise.withResolvers());
      await assertFails(
        new Connector({
          ...TARGET,
          proxy: `${scheme}://127.0.0.1:${proxy.port}`,
          handshakeTimeout: 300,
        }).connect(),
        Deno.errors.TimedOut,
        `proxy 127.0.0.1:${proxy.port} did not answer within 300 ms`,
      );
    }
    {
      const reached = Promise.withResolvers<void>();
      await using proxy = stalledProxy(reached);
      const controller = new AbortController();
      const connecting = new Connector({
        ...TARGET,
        proxy: `${scheme}://127.0.0.1:${proxy.port}`,
        signal: controller.signal,
      }).connect();
      await reached.promise;
      const reason = new Error("stop");
      controller.abort(reason);
      assertEquals(await connecting.catch((error) => error), reason);
    }
  }
});

Deno.test("proxy: retry covers a target that refuses through the proxy (SOCKS5 reply 5, HTTP 502) and a proxy that is not up", async () => {
  {
    await using proxy = scriptedProxy(async (conn, index) => {
      await readGreeting(conn);
      await writeAll(conn, Uint8Array.of(5, 0));
      await readSocksRequest(conn);
      await writeAll(conn, socksReply(index < 2 ? 5 : 0));
    });
    const connector = new Connector({
      ...TARGET,
      proxy: `socks5://127.0.0.1:${proxy.port}`,
      retry: { attempts: 5, delay: 1 },
    });
    (await connector.connect()).close();
    assertEquals(proxy.accepted(), 3);
  }
  {
    await using proxy = scriptedProxy(async (conn, index) => {
      await readHttpHead(conn);
      await writeAll(
        conn,
        encoder.encode(
          index === 0
            ? "HTTP/1.1 502 Bad Gateway\r\n\r\n"
            : "HTTP/1.1 200 OK\r\n\r\n",
        ),
      );
    });
    const connector = new Connector({
      ...TARGET,
      proxy: `http://127.0.0.1:${proxy.port}`,
      retry: { attempts: 2, delay: 1 },
    });
    (await connector.connect()).close();
    assertEquals(proxy.accepted(), 2);
  }
  const port = freePort();
  await assertFails(
    new Connector({
      ...TARGET,
      proxy: `socks5://alice:${PASSWORD}@127.0.0.1:${port}`,
      retry: { attempts: 2, delay: 1 },
    }).connect(),
    Deno.errors.ConnectionRefused,
    `Cannot connect to 127.0.0.1:9 (after 2 attempts): cannot reach the SOCKS5 proxy 127.0.0.1:${port}`,
  );
});

// --- TLS and the secret through a proxy ------------------------------------

/** A SOCKS5 (no auth) or HTTP proxy that relays to 127.0.0.1:`port`. */
function relayingProxy(
  scheme: "socks5" | "http",
  port: number,
  seen: string[],
) {
  return scriptedProxy(async (conn) => {
    if (scheme === "http") {
      seen.push((await readHttpHead(conn)).split("\r\n")[0]);
      await writeAll(conn, encoder.encode("HTTP/1.1 200 OK\r\n\r\n"));
    } else {
      await readGreeting(conn);
      await writeAll(conn, Uint8Array.of(5, 0));
      const asked = await readSocksRequest(conn);
      seen.push(`${asked.atyp} ${requestHost(asked)}`);
      await writeAll(conn, socksReply(0));
    }
    await relay(conn, "127.0.0.1", port);
  });
}

Deno.test("proxy: TLS verifies the target's name through SOCKS5h (the proxy resolves localhost) and through CONNECT", async () => {
  for (const scheme of ["socks5", "http"] as const) {
    await using passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      tls: LOCALHOST_TLS,
    });
    const { port } = await passive.listen() as Deno.NetAddr;
    const seen: string[] = [];
    await using proxy = relayingProxy(scheme, port, seen);
    const active = new Connector({
      host: "localhost",
      port,
      proxy: `${
        scheme === "socks5" ? "socks5h" : "http"
      }://127.0.0.1:${proxy.port}`,
      tls: { caCerts: [TEST_CA] },
    });
    const [client, server] = await Promise.all([
      active.connect(),
      passive.connect(),
    ]);
    using _client = client;
    using _server = server;
    assert("handshake" in client);
    await writeAll(client, encoder.encode("tls!"));
    assertEquals(decoder.decode(await readExactly(server, 4)), "tls!");
    await client.closeWrite();
    assertEquals(await server.read(new Uint8Array(1)), null);
    assertEquals(seen, [
      scheme === "socks5"
        ? "3 localhost"
        : `CONNECT localhost:${port} HTTP/1.1`,
    ]);
  }
});

Deno.test("proxy: a certificate for another name fails through the proxy, naming the name", async () => {
  await using passive = new Connector({
    mode: "passive",
    host: "127.0.0.1",
    tls: LOCALHOST_TLS,
    handshakeTimeout: 5000,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const accepting = passive.connect().catch(() => {});
  await using proxy = relayingProxy("socks5", port, []);
  await assertFails(
    new Connector({
      host: "localhost",
      port,
      proxy: `socks5h://127.0.0.1:${proxy.port}`,
      tls: { caCerts: [TEST_CA], hostname: "other.example" },
    }).connect(),
    Deno.errors.InvalidData,
    'not valid for the name "other.example"',
  );
  passive.close();
  await accepting;
});

Deno.test("proxy: bytes before the TLS handshake (a target that speaks first) fail TLS with a clear message", async () => {
  await using proxy = scriptedProxy(async (conn) => {
    await readHttpHead(conn);
    await writeAll(
      conn,
      encoder.encode("HTTP/1.1 200 OK\r\n\r\nHello, plain text\r\n"),
    );
    const buffer = new Uint8Array(4096);
    while (await conn.read(buffer) !== null) {
      // Drain the ClientHello until the client gives up.
    }
  });
  await assertFails(
    new Connector({
      host: "localhost",
      port: 443,
      proxy: `http://127.0.0.1:${proxy.port}`,
      tls: { caCerts: [TEST_CA] },
    }).connect(),
    Deno.errors.InvalidData,
    "TLS handshake with localhost:443 failed: the peer does not speak TLS",
  );
});

Deno.test("proxy: the secret exchange runs through the proxy; a wrong secret still fails", async () => {
  for (
    const [secret, ok] of [["42-apple-river", true], ["wrong", false]] as const
  ) {
    await using passive = new Connector({
      mode: "passive",
      host: "127.0.0.1",
      secret: "42-apple-river",
      handshakeTimeout: 5000,
    });
    const { port } = await passive.listen() as Deno.NetAddr;
    await using proxy = relayingProxy("socks5", port, []);
    const active = new Connector({
      host: "127.0.0.1",
      port,
      proxy: `socks5://127.0.0.1:${proxy.port}`,
      secret,
    });
    if (ok) {
      const [client, server] = await Promise.all([
        active.connect(),
        passive.connect(),
      ]);
      await writeAll(client, encoder.encode("code"));
      assertEquals(decoder.decode(await readExactly(server, 4)), "code");
      client.close();
      server.close();
    } else {
      const waiting = passive.connect().catch(() => {});
      await assertRejects(() => active.connect());
      passive.close();
      await waiting;
    }
  }
});

// --- permissions -----------------------------------------------------------

Deno.test({
  name:
    "proxy: a denial names the proxy's flag, and with socks5:// the name looked up here",
  permissions: { net: ["127.0.0.1"] },
  async fn() {
    const denied = await assertFails(
      new Connector({ ...TARGET, proxy: "http://127.0.0.2:3128" }).connect(),
      Deno.errors.NotCapable,
      "--allow-net=127.0.0.2:3128",
    );
    assert(!denied.message.includes("127.0.0.1:9"));
    await using proxy = scriptedProxy(async () => {});
    await assertFails(
      new Connector({
        host: "localhost",
        port: 9,
        proxy: `socks5://127.0.0.1:${proxy.port}`,
      }).connect(),
      Deno.errors.NotCapable,
      "--allow-net=localhost",
    );
  },
});

// --- the CLI ---------------------------------------------------------------

Deno.test("cli: --proxy is for connect: listen, --unix and a client certificate are usage errors", () => {
  const connect = ["connect", "127.0.0.1", "9", "--proxy", socksUrl(1080)];
  assertEquals(parseCliArgs(connect).connector.proxy, socksUrl(1080));
  const listen = assertThrows(
    () => parseCliArgs(["listen", "--proxy", socksUrl(1080)]),
    UsageError,
  );
  assertStringIncludes(listen.message, '--proxy applies to "connect" only');
  assertThrows(
    () => parseCliArgs(["connect", "--unix", "/tmp/s", "--proxy", socksUrl(1)]),
    UsageError,
    "--proxy cannot be combined with --unix",
  );
  assert(!listen.message.includes(PASSWORD));
});

const CLI = [
  "run",
  "--no-prompt",
  `--import-map=${
    new URL("../offline/import_map.json", import.meta.url).pathname
  }`,
  "-A",
  new URL("../cli.ts", import.meta.url).pathname,
];

async function runCli(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...CLI, ...args],
    stdin: "null",
    env,
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("cli: --permissions through a proxy is net access to the proxy; bad --proxy exits 2 without the password", async () => {
  const permissions = await runCli([
    "connect",
    "example.com",
    "9000",
    "--proxy",
    `socks5h://alice:${PASSWORD}@127.0.0.1:1080`,
    "--tls",
    "--permissions",
  ]);
  assertEquals(permissions, {
    code: 0,
    stdout: "--allow-net=127.0.0.1:1080\n",
    stderr: "",
  });
  for (
    const args of [
      ["connect", "h", "1", "--proxy", `socks5://alice:${PASSWORD}@h`],
      ["listen", "--proxy", `socks5://alice:${PASSWORD}@h:1`],
      [
        "connect",
        "h",
        "1",
        "--proxy",
        `http://alice:${PASSWORD}@h:1`,
        "--tls",
        "--cert",
        "c.pem",
        "--key",
        "k.pem",
      ],
    ]
  ) {
    const result = await runCli(args);
    assertEquals(result.code, 2, result.stderr);
    assertMatch(result.stderr, /--proxy/);
    assert(!result.stderr.includes(PASSWORD), result.stderr);
  }
});

Deno.test("cli: a --proxy value out of range (its port, SOCKS5 credentials over 255 bytes) is named as --proxy, exit 2", async () => {
  for (
    const [proxy, says] of [
      [`socks5://alice:${PASSWORD}@127.0.0.1:0`, "the port 0 is out of range"],
      [
        `socks5://${"u".repeat(256)}:${PASSWORD}@127.0.0.1:1080`,
        "the user name is longer than 255 bytes",
      ],
    ]
  ) {
    const result = await runCli(["connect", "h", "1", "--proxy", proxy]);
    assertEquals(result.code, 2, result.stderr);
    assertStringIncludes(result.stderr, `Invalid --proxy: ${says}`);
    assert(!result.stderr.includes('option "proxy"'), result.stderr);
    assert(!result.stderr.includes(PASSWORD), result.stderr);
  }
});

Deno.test("cli: a wrong proxy password exits 1 naming the proxy, not the password", async () => {
  await using proxy = scriptedProxy(async (conn) => {
    await readGreeting(conn);
    await writeAll(conn, Uint8Array.of(5, 2));
    await readCredentials(conn);
    await writeAll(conn, Uint8Array.of(1, 1));
  });
  const result = await runCli([
    "connect",
    "127.0.0.1",
    "9",
    "--proxy",
    socksUrl(proxy.port),
  ]);
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(
    result.stderr,
    `the SOCKS5 proxy 127.0.0.1:${proxy.port} rejected the user name "alice"`,
  );
  assert(!result.stderr.includes(PASSWORD));
});

Deno.test("cli: --proxy-password-env reads the proxy's password from the environment, so it is not in argv", async () => {
  const credentials: string[] = [];
  await using proxy = scriptedProxy(async (conn) => {
    await readGreeting(conn);
    await writeAll(conn, Uint8Array.of(5, 2));
    const { username, password } = await readCredentials(conn);
    credentials.push(`${username}:${password}`);
    await writeAll(conn, Uint8Array.of(1, password === PASSWORD ? 0 : 1));
    await readSocksRequest(conn);
    await writeAll(conn, socksReply(0));
    // As the target: the CLI sends nothing and ends its side; so do we.
    assertEquals(await conn.read(new Uint8Array(1)), null);
  });
  const args = [
    "connect",
    "127.0.0.1",
    "9",
    "--proxy",
    `socks5://alice@127.0.0.1:${proxy.port}`,
    "--proxy-password-env",
    "PROXY_PW",
  ];
  const permissions = await runCli([...args, "--permissions"]);
  assertEquals(
    permissions.stdout,
    `--allow-net=127.0.0.1:${proxy.port} --allow-env=PROXY_PW\n`,
  );
  const ok = await runCli(args, { PROXY_PW: PASSWORD });
  assertEquals(ok.code, 0, ok.stderr);
  assert(!ok.stderr.includes(PASSWORD));
  assertEquals(credentials, [`alice:${PASSWORD}`]);
  const unset = await runCli(args);
  assertEquals(unset.code, 3, unset.stderr);
  assertStringIncludes(unset.stderr, "PROXY_PW is not set");
  const withPassword = await runCli([
    ...args.slice(0, 4),
    `socks5://alice:${PASSWORD}@127.0.0.1:1`,
    ...args.slice(5),
  ]);
  assertEquals(withPassword.code, 2);
  assertStringIncludes(withPassword.stderr, "a user name and no password");
  assert(!withPassword.stderr.includes(PASSWORD));
});
