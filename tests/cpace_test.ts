/**
 * The CPace building blocks against the test vectors of
 * draft-irtf-cfrg-cpace-21: Appendix A (string functions) and Appendix B.3
 * (CPACE-RISTR255-SHA512).
 */
import { assertEquals, assertNotEquals } from "@std/assert";
import {
  calculateGenerator,
  concat,
  confirmationKey,
  confirmationTag,
  generatorString,
  intermediateSessionKey,
  lvCat,
  prependLen,
  scalarFromBytes,
  scalarMult,
  scalarMultVerify,
  sha512,
  transcriptIr,
} from "../_cpace.ts";

const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

function bytes(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  return new Uint8Array(
    clean.match(/../g)!.map((pair) => parseInt(pair, 16)),
  );
}

// Appendix B.3 of draft-irtf-cfrg-cpace-21.
const PRS = encoder.encode("Password");
const CI = bytes("0b415f696e69746961746f720b425f726573706f6e646572");
const SID = bytes("7e4b4791d6a8ef019b936c79fb7f2c57");
const YA = bytes(
  "da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08",
);
const YB = bytes(
  "d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d",
);
const AD_A = encoder.encode("ADa");
const AD_B = encoder.encode("ADb");
const SHARE_A =
  "d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157";
const SHARE_B =
  "3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258";
const K = "80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f";

Deno.test("prepend_len and lv_cat reproduce the draft's Appendix A.1 vectors", () => {
  assertEquals(hex(prependLen(new Uint8Array())), "00");
  assertEquals(hex(prependLen(encoder.encode("1234"))), "0431323334");
  const range = (n: number) => new Uint8Array(n).map((_, index) => index);
  assertEquals(hex(prependLen(range(127))).slice(0, 6), "7f0001");
  assertEquals(prependLen(range(127)).length, 128);
  assertEquals(hex(prependLen(range(128))).slice(0, 8), "80010001");
  assertEquals(prependLen(range(128)).length, 130);
  assertEquals(
    hex(
      lvCat(
        encoder.encode("1234"),
        encoder.encode("5"),
        new Uint8Array(),
        encoder.encode("678"),
      ),
    ),
    "043132333401350003363738",
  );
});

Deno.test("transcript_ir reproduces the draft's Appendix A.3.5 vectors", () => {
  const e = (text: string) => encoder.encode(text);
  assertEquals(
    hex(transcriptIr(e("123"), e("PartyA"), e("234"), e("PartyB"))),
    "03313233065061727479410332333406506172747942",
  );
  assertEquals(
    hex(transcriptIr(e("3456"), e("PartyA"), e("2345"), e("PartyB"))),
    "043334353606506172747941043233343506506172747942",
  );
});

Deno.test("calculate_generator for ristretto255 reproduces the draft's B.3.1 vector", async () => {
  const string = generatorString(PRS, CI, SID);
  assertEquals(string.length, 170);
  assertEquals(
    hex(string),
    "11435061636552697374726574746f3235350850617373776f726464" +
      "00".repeat(100) +
      "180b415f696e69746961746f720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f2c57",
  );
  assertEquals(
    hex(await sha512(string)),
    "da6d3ddc8802fca9058755ffd3ebde08a9c2c74945901a258482a288b6663af06bf645c93cd1c51512307199c80e84908916d983b34af77205f90851a657ee27",
  );
  assertEquals(
    hex((await calculateGenerator(PRS, CI, SID)).toBytes()),
    "222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56",
  );
});

Deno.test("the shares, K and ISK reproduce the draft's B.3.2 to B.3.5 vectors", async () => {
  const generator = await calculateGenerator(PRS, CI, SID);
  const ya = scalarFromBytes(YA);
  const yb = scalarFromBytes(YB);
  assertEquals(hex(scalarMult(ya, generator)), SHARE_A);
  assertEquals(hex(scalarMult(yb, generator)), SHARE_B);
  assertEquals(hex(scalarMultVerify(ya, bytes(SHARE_B))!), K);
  assertEquals(hex(scalarMultVerify(yb, bytes(SHARE_A))!), K);
  const transcript = transcriptIr(bytes(SHARE_A), AD_A, bytes(SHARE_B), AD_B);
  assertEquals(transcript.length, 74);
  assertEquals(
    hex(transcript),
    "20d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b915703414461203ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f725803414462",
  );
  assertEquals(
    hex(await intermediateSessionKey(SID, bytes(K), transcript)),
    "b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dcae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c3fa2068af7900447",
  );
  // B.3.7: the optional session id output over the same transcript.
  assertEquals(
    hex(await sha512(concat(encoder.encode("CPaceSidOutput"), transcript))),
    "bb1c449b35f0ea79a65c209f329a693d475e0ce2387bed9fe4b78f60b2a27c219813fb2cfe175ef40d2222d9261e66da7d78f7c55a303b1b8611dcdfab880c47",
  );
});

Deno.test("scalar_mult_vfy reproduces B.3.10 and refuses the invalid inputs of B.3.11", () => {
  const s = scalarFromBytes(
    bytes("7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05"),
  );
  assertEquals(
    hex(
      scalarMultVerify(
        s,
        bytes(
          "2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c",
        ),
      )!,
    ),
    "7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e",
  );
  // Y_i1 does not decode; Y_i2 is the neutral element G.I.
  assertEquals(
    scalarMultVerify(
      s,
      bytes("2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c"),
    ),
    undefined,
  );
  assertEquals(scalarMultVerify(s, new Uint8Array(32)), undefined);
});

// The draft (§ key confirmation) gives the formulas but no vectors for them:
// these were computed independently, with Python's hashlib and hmac, from
// the B.3 values above: mac_key = SHA-512("CPaceMac" || sid || ISK),
// Ta = HMAC-SHA-512(mac_key, lv_cat(Ya, ADa)), Tb likewise with Yb, ADb.
const ISK_IR =
  "b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dcae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c3fa2068af7900447";
const MAC_KEY =
  "26cef0ae277a6b25bb1ad7e3ca83ce2cd8f4341669dde058314a6a73d5fff55e09872d5546058d1d9374ee0363d4ec9aecb9b1beb2e50d30f122ad8e5056b413";
const TAG_A =
  "30478d28d83ae3b214295e91f4a3eb62999a8ed94575075db4a7d3bc3e4d26f16c51adba12dc7771372637a46b5134e0937cddd7d820bfdd83be335e339eb57a";
const TAG_B =
  "e927a7da291676f8878caae9cb70407d2f14117e6f9ff9adcfda797c4bcf2bd2fefd2ca3f2ddcce81b7386996c895b2f359010cc92069d5ff4ad49a977de79a6";

Deno.test("key confirmation gives the mac_key and tags Ta, Tb computed independently (Python hashlib/hmac) from the B.3 vectors", async () => {
  const macKey = await confirmationKey(SID, bytes(ISK_IR));
  assertEquals(hex(macKey), MAC_KEY);
  assertEquals(
    hex(await confirmationTag(macKey, bytes(SHARE_A), AD_A)),
    TAG_A,
  );
  assertEquals(
    hex(await confirmationTag(macKey, bytes(SHARE_B), AD_B)),
    TAG_B,
  );
});

Deno.test("a key confirmation tag changes when a bit of mac_key, share or AD flips, and with where the share ends (lv_cat)", async () => {
  const macKey = bytes(MAC_KEY);
  const share = bytes(SHARE_A);
  const base = hex(await confirmationTag(macKey, share, AD_A));
  const flipped = (data: Uint8Array, index: number) => {
    const copy = data.slice();
    copy[index] ^= 1 << (index % 8);
    return copy;
  };
  for (let index = 0; index < 64; index += 7) {
    assertNotEquals(
      hex(await confirmationTag(flipped(macKey, index), share, AD_A)),
      base,
    );
  }
  for (let index = 0; index < 32; index += 5) {
    assertNotEquals(
      hex(await confirmationTag(macKey, flipped(share, index), AD_A)),
      base,
    );
  }
  assertNotEquals(
    hex(await confirmationTag(macKey, share, flipped(AD_A, 2))),
    base,
  );
  // The same bytes split differently between share and AD: another tag.
  const joined = concat(share, AD_A);
  assertNotEquals(
    hex(
      await confirmationTag(macKey, joined.subarray(0, 33), AD_A.subarray(1)),
    ),
    base,
  );
});
