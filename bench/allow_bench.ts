/**
 * Allow lists of 100,000 entries (half IPv4 addresses and ranges, half IPv6):
 * the time to compile one (once, in the constructor) and the time to vet one
 * arriving peer (IPv4, IPv4-mapped IPv6, IPv6; listed and not listed). The
 * target for vetting is under 50 µs per peer.
 *
 *     deno bench --import-map=offline/import_map.json --no-prompt bench/allow_bench.ts
 *
 * @module
 */
import { isAllowed, parseAllowList } from "../_allow.ts";

const ENTRIES = 100_000;

/** 100,000 distinct entries: IPv4 /32 and /28, IPv6 /128 and /64. */
function entries(): string[] {
  const list: string[] = [];
  for (let index = 0; index < ENTRIES; index++) {
    const a = (index >> 16) & 255, b = (index >> 8) & 255, c = index & 255;
    switch (index % 4) {
      case 0:
        list.push(`10.${a}.${b}.${c}`);
        break;
      case 1:
        list.push(`172.${16 + a}.${b}.${c & 0xf0}/28`);
        break;
      case 2:
        list.push(
          `2001:db8:${a.toString(16)}:${b.toString(16)}::${c.toString(16)}`,
        );
        break;
      default:
        list.push(
          `fd00:${a.toString(16)}:${b.toString(16)}:${c.toString(16)}::/64`,
        );
    }
  }
  return list;
}

const LIST = entries();
const COMPILED = parseAllowList(LIST);
const peer = (hostname: string): Deno.NetAddr => ({
  transport: "tcp",
  hostname,
  port: 40000,
});
const PEERS = {
  "IPv4, listed": peer("10.1.134.156"),
  "IPv4, not listed": peer("192.0.2.77"),
  "IPv4-mapped IPv6, listed": peer("::ffff:10.1.134.156"),
  "IPv6, listed": peer("2001:db8:1:86:0:0:0:9e"),
  "IPv6, not listed": peer("2001:db8:ffff::1"),
};
for (const [name, address] of Object.entries(PEERS)) {
  if (isAllowed(address, COMPILED) !== name.endsWith(", listed")) {
    throw new Error(`bench setup: ${name} ${address.hostname} misjudged`);
  }
}

Deno.bench({
  name: "compile 100,000 allow entries",
  group: "compile",
  fn() {
    parseAllowList(LIST);
  },
});

for (const [name, address] of Object.entries(PEERS)) {
  Deno.bench({
    name: `vet one peer against 100,000 entries: ${name}`,
    group: "vet",
    fn() {
      isAllowed(address, COMPILED);
    },
  });
}
