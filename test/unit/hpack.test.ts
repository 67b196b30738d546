import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { huffmanCodes } from "../../server/h2/hpack-huffman.js";
import { CompressionError, encodeHeaderBlock, HeaderListTooLarge, HpackDecoder, type HeaderField } from "../../server/h2/hpack.js";

const LIMIT = 64 * 1024;
const hex = (text: string) => Buffer.from(text.replace(/\s/g, ""), "hex");

describe("HPACK", () => {
  it("rebuilds RFC 7541 Appendix B's codes from their lengths", () => {
    const codes = huffmanCodes();
    assert.deepEqual(codes[0], { code: 0x1ff8, length: 13 });
    assert.deepEqual(codes["0".charCodeAt(0)], { code: 0x0, length: 5 });
    assert.deepEqual(codes[" ".charCodeAt(0)], { code: 0x14, length: 6 });
    assert.deepEqual(codes[10], { code: 0x3ffffffc, length: 30 });
    assert.deepEqual(codes[255], { code: 0x3ffffee, length: 26 });
    assert.deepEqual(codes[256], { code: 0x3fffffff, length: 30 }, "EOS");
  });

  it("decodes RFC 7541 C.4, three requests with Huffman and a shared dynamic table", () => {
    const decoder = new HpackDecoder();
    const base: HeaderField[] = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]];
    assert.deepEqual(decoder.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"), LIMIT), base);
    assert.deepEqual(decoder.decode(hex("8286 84be 5886 a8eb 1064 9cbf"), LIMIT), [...base, ["cache-control", "no-cache"]]);
    assert.deepEqual(decoder.decode(hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"), LIMIT), [
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
  });

  it("evicts on a table size update, so old entries are gone", () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex("4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"), LIMIT); // custom-key: custom-value, indexed
    assert.deepEqual(decoder.decode(hex("be"), LIMIT), [["custom-key", "custom-value"]]);
    assert.throws(() => decoder.decode(hex("20 be"), LIMIT), CompressionError, "size 0 empties the table");
  });

  it("rejects what RFC 7541 calls a decoding error", () => {
    const cases: [string, string][] = [
      ["80", "index 0"],
      ["ff00", "an index past both tables"],
      ["0003 61", "a string shorter than its length"],
      ["0081 00 00", "Huffman padding that is not all ones"],
      ["0084 ffff ffff 00", "EOS inside a string"],
      ["3fe21f", "a table size update above the announced 4,096"],
      ["82 20", "a table size update after a field"],
      ["ffffffffff7f", "an integer too long"],
    ];
    for (const [block, what] of cases) {
      assert.throws(() => new HpackDecoder().decode(hex(block), LIMIT), CompressionError, what);
    }
  });

  it("stops a header list at the limit, however small its block (an indexed entry repeated)", () => {
    const decoder = new HpackDecoder();
    const big = "x".repeat(4000);
    const insert = Buffer.concat([hex("40 01 78 7f a11e"), Buffer.from(big)]); // x: 4,000 bytes, indexed
    const block = Buffer.concat([insert, Buffer.alloc(100, 0xbe)]);
    assert.throws(() => decoder.decode(block, LIMIT), HeaderListTooLarge);
  });

  it("encodes answers that decode to the same fields, lengths past one byte included", () => {
    const fields: HeaderField[] = [
      [":status", "200"],
      [":status", "415"],
      ["content-type", "application/grpc"],
      ["grpc-status", "5"],
      ["grpc-message", "image %22" + "n".repeat(300) + "%22: not found"],
    ];
    assert.deepEqual(new HpackDecoder().decode(encodeHeaderBlock(fields), LIMIT), fields);
  });
});
