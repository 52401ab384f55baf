/**
 * Strict address validation (_ip.ts) and the compiled allow list (_allow.ts):
 * the parsers against `node:net` (written by others) on random strings, the
 * constructor's `host` and `allow` checks, and allow rules over real sockets.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  BlockList,
  isIPv4 as nodeIsIPv4,
  isIPv6 as nodeIsIPv6,
} from "node:net";
import { Connector, type ConnectorOptions } from "../mod.ts";
import {
  parseAddressRange,
  parseHost,
  parseIPv4,
  parseIPv6,
  parsePeerAddress,
} from "../_ip.ts";
import { isAllowed, parseAllowList } from "../_allow.ts";
import { hasIPv6, seededRandom } from "./_helpers.ts";

const tcp = (hostname: string): Deno.NetAddr => ({
  transport: "tcp",
  hostname,
  port: 1,
});

/** The eight groups of an address's four words, written out in full. */
function fullIPv6(words: readonly number[]): string {
  return words.flatMap((word) => [word >>> 16, word & 0xffff])
    .map((group) => group.toString(16)).join(":");
}

// ------------------------------------------------------------- parsers --

Deno.test("parseIPv4 reads dotted quads of decimal 0-255 and nothing else", () => {
  assertEquals(parseIPv4("127.0.0.1"), 0x7f000001);
  assertEquals(parseIPv4("255.255.255.255"), 0xffffffff);
  assertEquals(parseIPv4("0.0.0.0"), 0);
  for (
    const text of [
      "",
      "1.2.3.",
      "...",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "0x7f.0.0.1",
      "010.0.0.1",
      "00.0.0.0",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3.4\n",
      "+1.2.3.4",
      "1e2.0.0.1",
      "١.٢.٣.٤",
    ]
  ) {
    assertEquals(parseIPv4(text), undefined, JSON.stringify(text));
  }
});

Deno.test("parseIPv6 reads the RFC 4291 text forms: full, compressed, with an IPv4 tail", () => {
  assertEquals(parseIPv6("::"), [0, 0, 0, 0]);
  assertEquals(parseIPv6("::1"), [0, 0, 0, 1]);
  assertEquals(parseIPv6("1::"), [0x10000, 0, 0, 0]);
  assertEquals(parseIPv6("0:0:0:0:0:0:0:1"), [0, 0, 0, 1]);
  assertEquals(parseIPv6("::ffff:127.0.0.1"), [0, 0, 0xffff, 0x7f000001]);
  assertEquals(parseIPv6("0:0:0:0:0:ffff:127.0.0.1"), [
    0,
    0,
    0xffff,
    0x7f000001,
  ]);
  assertEquals(parseIPv6("1:2:3:4:5:6:7::"), parseIPv6("1:2:3:4:5:6:7:0"));
  assertEquals(parseIPv6("FE80::ABCD"), parseIPv6("fe80::abcd"));
  for (
    const text of [
      "",
      ":",
      ":::",
      "1g::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      ":1::",
      "1::2:",
      "::1.2.3.",
      "::1.2.3.4:5",
      "1.2.3.4::",
      "::256.0.0.1",
      "[::1]",
      "fe80::1%eth0",
      " ::1",
      "::-1",
      "0x1::",
    ]
  ) {
    assertEquals(parseIPv6(text), undefined, JSON.stringify(text));
  }
});

Deno.test("parseIPv4 and parseIPv6 agree with node:net on 20,000 random strings, and on the value", () => {
  const random = seededRandom(0x1b);
  const alphabet = "0123456789abcdefABCDEFg.:: %x-";
  const seeds = [
    "127.0.0.1",
    "::1",
    "::ffff:1.2.3.4",
    "2001:db8::8:800:200c:417a",
  ];
  const pick = (text: string) => text[Math.floor(random() * text.length)];
  let valid = 0;
  for (let index = 0; index < 20_000; index++) {
    let text: string;
    if (random() < 0.5) {
      text = Array.from(
        { length: Math.floor(random() * 20) },
        () => pick(alphabet),
      ).join("");
    } else {
      // Mutate a valid address: replace, insert or delete one character.
      const seed = seeds[Math.floor(random() * seeds.length)];
      const at = Math.floor(random() * (seed.length + 1));
      const roll = random();
      text = roll < 0.33
        ? seed.slice(0, at) + pick(alphabet) + seed.slice(at + 1)
        : roll < 0.66
        ? seed.slice(0, at) + pick(alphabet) + seed.slice(at)
        : seed.slice(0, at) + seed.slice(at + 1);
    }
    if (text.includes("%")) continue; // node:net also takes zone ids
    assertEquals(
      parseIPv4(text) !== undefined,
      nodeIsIPv4(text),
      `IPv4 ${JSON.stringify(text)}`,
    );
    const ipv6 = parseIPv6(text);
    assertEquals(
      ipv6 !== undefined,
      nodeIsIPv6(text),
      `IPv6 ${JSON.stringify(text)}`,
    );
    if (ipv6 !== undefined) {
      valid++;
      const list = new BlockList();
      list.addAddress(text, "ipv6");
      assert(list.check(fullIPv6(ipv6), "ipv6"), `value of ${text}`);
    }
  }
  assert(valid > 500, `only ${valid} valid IPv6 addresses generated`);
});

Deno.test("parseHost takes names, IPv4, IPv6 with or without brackets and with a zone id", () => {
  assertEquals(parseHost("localhost"), { kind: "name", hostname: "localhost" });
  assertEquals(parseHost("example.com."), {
    kind: "name",
    hostname: "example.com.",
  });
  assertEquals(parseHost("a-1.b2.xn--p1ai"), {
    kind: "name",
    hostname: "a-1.b2.xn--p1ai",
  });
  assertEquals(parseHost("127.0.0.1"), { kind: "ipv4", hostname: "127.0.0.1" });
  assertEquals(parseHost("[::1]"), { kind: "ipv6", hostname: "::1" });
  assertEquals(parseHost("::1"), { kind: "ipv6", hostname: "::1" });
  assertEquals(parseHost("fe80::1%eth0"), {
    kind: "ipv6",
    hostname: "fe80::1%eth0",
  });
  assertEquals(parseHost("[fe80::1%2]"), {
    kind: "ipv6",
    hostname: "fe80::1%2",
  });
  assertEquals(parseHost(`${"a".repeat(63)}.com`)?.kind, "name");
});

Deno.test("parseHost refuses ports, URLs, spaces, brackets without IPv6, and numbers in disguise", () => {
  for (
    const text of [
      "",
      " ",
      ".",
      "127.0.0.1:80",
      "[::1",
      "::1]",
      "[::1]:80",
      "[127.0.0.1]",
      "[localhost]",
      "http://x",
      "a\0b",
      "a b",
      "-a.com",
      "a-.com",
      "a..b",
      "a_b.com",
      "exämple.com",
      `${"a".repeat(64)}.com`,
      `${"a.".repeat(127)}ab`,
      "1.2.3",
      "1.2.3.256",
      "0x7f",
      "0x7f.1",
      "1.0x7f",
      "example.123",
      "a.0x4",
      "1e2.1.1.0x4",
      "fe80::1%",
      "fe80::1%eth 0",
      "fe80::1%eth0/1",
      "1g::",
    ]
  ) {
    assertEquals(parseHost(text), undefined, JSON.stringify(text));
  }
});

Deno.test("parseAddressRange reads an address or address/prefix with a plain decimal prefix", () => {
  assertEquals(parseAddressRange("10.1.2.3/8"), {
    version: 4,
    first: 0x0a000000,
    last: 0x0affffff,
  });
  assertEquals(parseAddressRange("127.0.0.1"), {
    version: 4,
    first: 0x7f000001,
    last: 0x7f000001,
  });
  assertEquals(parseAddressRange("0.0.0.0/0"), {
    version: 4,
    first: 0,
    last: 0xffffffff,
  });
  assertEquals(parseAddressRange("[fd00::]/8"), {
    version: 6,
    first: [0xfd000000, 0, 0, 0],
    last: [0xfdffffff, 0xffffffff, 0xffffffff, 0xffffffff],
  });
  assertEquals(parseAddressRange("2001:db8::1/33"), {
    version: 6,
    first: [0x20010db8, 0, 0, 0],
    last: [0x20010db8, 0x7fffffff, 0xffffffff, 0xffffffff],
  });
  assertEquals(parseAddressRange("::1")?.first, [0, 0, 0, 1]);
  for (
    const text of [
      "",
      "/0",
      ":",
      "1.2.3.",
      "1g::/16",
      "fe80::%eth0/10",
      "fe80::1%eth0",
      "10.0.0.0/",
      "10.0.0.0/33",
      "::/129",
      "10.0.0.0/+8",
      "10.0.0.0/8.5",
      "10.0.0.0/ 8",
      "10.0.0.0/8 ",
      "10.0.0.0/0x8",
      "10.0.0.0/08",
      "10.0.0.0/-0",
      "10.0.0.0/8/9",
      "localhost",
      "[10.0.0.1]",
      "[::1/128]",
    ]
  ) {
    assertEquals(parseAddressRange(text), undefined, JSON.stringify(text));
  }
});

Deno.test("parsePeerAddress reads IPv4-mapped IPv6 peers as IPv4 and drops a zone id", () => {
  assertEquals(parsePeerAddress("::ffff:127.0.0.1"), {
    version: 4,
    value: 0x7f000001,
  });
  assertEquals(parsePeerAddress("::ffff:7f00:1"), {
    version: 4,
    value: 0x7f000001,
  });
  assertEquals(parsePeerAddress("fe80::1%2"), {
    version: 6,
    value: [0xfe800000, 0, 0, 1],
  });
  assertEquals(parsePeerAddress("localhost"), undefined);
});

// ----------------------------------------------------------- allow list --

Deno.test("isAllowed on a compiled list agrees with node:net BlockList on 300 random lists and 30,000 peers", () => {
  const random = seededRandom(0xa11);
  const byte = () => Math.floor(random() * 4); // few values: many overlaps
  for (let round = 0; round < 300; round++) {
    const entries: string[] = [];
    const reference = new BlockList();
    for (let index = 0; index < 1 + Math.floor(random() * 12); index++) {
      if (random() < 0.5) {
        const address = `10.${byte()}.${byte()}.${byte()}`;
        const prefix = 8 + Math.floor(random() * 25);
        entries.push(`${address}/${prefix}`);
        reference.addSubnet(address, prefix, "ipv4");
      } else {
        const address = `fd00:${byte()}:${byte()}::${byte()}`;
        const prefix = 16 + Math.floor(random() * 113);
        entries.push(`${address}/${prefix}`);
        reference.addSubnet(address, prefix, "ipv6");
      }
    }
    const list = parseAllowList(entries);
    for (let peer = 0; peer < 100; peer++) {
      const [address, family] = random() < 0.5
        ? [`10.${byte()}.${byte()}.${byte()}`, "ipv4"] as const
        : [`fd00:${byte()}:${byte()}::${byte()}`, "ipv6"] as const;
      assertEquals(
        isAllowed(tcp(address), list),
        reference.check(address, family),
        `${address} against ${entries.join(" ")}`,
      );
    }
  }
});

Deno.test("isAllowed matches IPv4 rules against IPv4-mapped peers and mapped rules against IPv4 peers", () => {
  const ipv4Rule = parseAllowList(["127.0.0.0/8"]);
  assert(isAllowed(tcp("::ffff:127.0.0.1"), ipv4Rule));
  assert(isAllowed(tcp("127.9.9.9"), ipv4Rule));
  assert(!isAllowed(tcp("::1"), ipv4Rule));
  const mappedRule = parseAllowList(["::ffff:10.0.0.0/104"]);
  assert(isAllowed(tcp("10.200.0.1"), mappedRule));
  assert(!isAllowed(tcp("11.0.0.1"), mappedRule));
  // One address space: ::/0 covers the IPv4-mapped block, so every peer.
  const everything = parseAllowList(["::/0"]);
  assert(isAllowed(tcp("192.0.2.1"), everything));
  assert(isAllowed(tcp("2001:db8::1"), everything));
  const ipv6Only = parseAllowList(["2001:db8::/32"]);
  assert(!isAllowed(tcp("192.0.2.1"), ipv6Only));
  assert(!isAllowed({ transport: "unix", path: "/tmp/x" }, everything));
  // A peer's zone id does not matter: rules name addresses.
  assert(isAllowed(tcp("fe80::1%2"), parseAllowList(["fe80::/10"])));
});

Deno.test("parseAllowList merges overlapping and adjacent ranges", () => {
  const list = parseAllowList([
    "10.0.0.0/24",
    "10.0.1.0/24",
    "10.0.0.128/25",
    "192.168.0.1",
    "::1",
    "::2",
  ]);
  assertEquals(Array.from(list.ipv4.first), [0x0a000000, 0xc0a80001]);
  assertEquals(Array.from(list.ipv4.last), [0x0a0001ff, 0xc0a80001]);
  assertEquals(Array.from(list.ipv6.first), [0, 0, 0, 1]);
  assertEquals(Array.from(list.ipv6.last), [0, 0, 0, 2]);
  // Adjacent across 32-bit words: the carry of last + 1 runs into word 1.
  const carried = parseAllowList(["2001:db8:0:1::/64", "2001:db8::/64"]);
  assertEquals(Array.from(carried.ipv6.first), [0x20010db8, 0, 0, 0]);
  assertEquals(Array.from(carried.ipv6.last), [
    0x20010db8,
    1,
    0xffffffff,
    0xffffffff,
  ]);
  // ::/0 is the IPv4 space plus the IPv6 space around the mapped block.
  const everything = parseAllowList(["::/0"]);
  assertEquals(Array.from(everything.ipv4.first), [0]);
  assertEquals(Array.from(everything.ipv4.last), [0xffffffff]);
  assert(isAllowed(tcp("::fffe:ffff:ffff"), everything));
  assert(isAllowed(tcp("::1:0:0:0"), everything));
  assert(!isAllowed(tcp("::fffe:ffff:ffff"), parseAllowList(["0.0.0.0/0"])));
});

// --------------------------------------------------------- constructor --

function construct(options: unknown): () => Connector {
  return () => new Connector(options as ConnectorOptions);
}

Deno.test("new Connector() refuses a malformed host with TypeError naming the value", () => {
  for (
    const host of ["127.0.0.1:80", " ", "[::1", "http://x", "a\0b", "1.2.3", ""]
  ) {
    for (const mode of ["active", "passive"]) {
      const error = assertThrows(
        construct({ mode, host, port: 7000 }),
        TypeError,
        `Invalid option "host": ${JSON.stringify(host)}`,
      );
      assertStringIncludes(error.message, "IPv6 address such as ::1");
    }
  }
});

Deno.test("new Connector() takes bracketed IPv6 and zone ids for host, and grants name them", () => {
  const bracketed = new Connector({ host: "[::1]", port: 7000 });
  assertEquals(bracketed.permissions, [{ name: "net", host: "[::1]:7000" }]);
  const zoned = new Connector({ host: "fe80::1%lo", port: 7000 });
  assertEquals(zoned.permissions, [{ name: "net", host: "[fe80::1%lo]:7000" }]);
  const named = new Connector({ host: "localhost.", port: 7000 });
  assertEquals(named.permissions, [{ name: "net", host: "localhost.:7000" }]);
});

Deno.test("new Connector() refuses allow entries that are not strict addresses or ranges, naming the entry", () => {
  for (
    const entry of [
      "",
      "1.2.3.",
      "/0",
      ":",
      "1g::/16",
      "fe80::%eth0/10",
      "10.0.0.0/+8",
      "10.0.0.0/8.5",
      " 10.0.0.0/8",
      "0x7f.0.0.1",
    ]
  ) {
    assertThrows(
      construct({ mode: "passive", allow: [entry] }),
      TypeError,
      `Invalid "allow" entry ${JSON.stringify(entry)}`,
    );
  }
  assertThrows(
    construct({ mode: "passive", allow: [null] }),
    TypeError,
    'Invalid "allow" entry null',
  );
});

// -------------------------------------------------------- real sockets --

async function admitted(
  allow: string[],
  listenHost: string,
  peers: string[],
): Promise<{ accepted: string; rejected: number }> {
  await using passive = new Connector({
    mode: "passive",
    host: listenHost,
    allow,
  });
  const { port } = await passive.listen() as Deno.NetAddr;
  const waiting = passive.connect();
  const [allowedPeer, ...refusedPeers] = peers;
  for (const hostname of refusedPeers) {
    using conn = await Deno.connect({ hostname, port });
    // A refused peer is closed at once: its read ends.
    assertEquals(
      await conn.read(new Uint8Array(1)),
      null,
      `${hostname} refused`,
    );
  }
  using _client = await Deno.connect({ hostname: allowedPeer, port });
  using server = await waiting;
  return {
    accepted: (server.remoteAddr as Deno.NetAddr).hostname,
    rejected: passive.rejectedPeers,
  };
}

Deno.test("a passive connector with 100,000 allow entries admits the listed peer and refuses the others", async () => {
  const entries: string[] = [];
  for (let index = 0; index < 100_000; index++) {
    entries.push(
      index % 2 === 0
        ? `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`
        : `fd00::${(index >> 16).toString(16)}:${
          (index & 0xffff).toString(16)
        }/128`,
    );
  }
  entries.push("127.0.0.1");
  if (!hasIPv6()) {
    throw new Error(
      "this test needs IPv6 loopback (::1); the CI machines have it",
    );
  }
  // Dual-stack: the refused peer comes from ::1 (not listed), the admitted
  // one from 127.0.0.1, seen as ::ffff:127.0.0.1. (Every loopback connection
  // has the source address 127.0.0.1 or ::1, whatever address it dials.)
  const result = await admitted(entries, "::", ["127.0.0.1", "::1"]);
  assertStringIncludes(result.accepted, "127.0.0.1");
  assertEquals(result.rejected, 1);
});

Deno.test("a dual-stack passive connector admits an IPv4 peer by an IPv4-mapped rule and refuses ::1", async () => {
  if (!hasIPv6()) {
    throw new Error(
      "this test needs IPv6 loopback (::1); the CI machines have it",
    );
  }
  const result = await admitted(["::ffff:127.0.0.0/104"], "::", [
    "127.0.0.1",
    "::1",
  ]);
  assertStringIncludes(result.accepted, "127.0.0.1");
  assertEquals(result.rejected, 1);
});
