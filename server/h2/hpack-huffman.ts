/**
 * HPACK's Huffman code (RFC 7541, Appendix B). The code is canonical: codes
 * of equal length are consecutive in symbol order, and each length follows
 * the shorter ones. So the bit length of each symbol (0-255, then 256 for
 * EOS) is all it takes to rebuild it.
 */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/** Each symbol's code, rebuilt from CODE_LENGTHS. */
export function huffmanCodes(): { code: number; length: number }[] {
  const order = CODE_LENGTHS.map((length, symbol) => ({ length, symbol })).sort((a, b) => a.length - b.length || a.symbol - b.symbol);
  const codes = new Array<{ code: number; length: number }>(CODE_LENGTHS.length);
  let code = 0;
  let previous = order[0]!.length;
  for (const [i, { length, symbol }] of order.entries()) {
    if (i > 0) code = (code + 1) * 2 ** (length - previous);
    previous = length;
    codes[symbol] = { code, length };
  }
  return codes;
}

/**
 * The decoding tree: node n's children are at 2n (bit 0) and 2n + 1 (bit 1);
 * a positive entry is the next node, a negative one the leaf -(symbol + 1).
 */
function decodingTree(): Int32Array {
  const tree = new Int32Array(2 * CODE_LENGTHS.length);
  let nodes = 1;
  for (const [symbol, { code, length }] of huffmanCodes().entries()) {
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = 2 * node + (Math.floor(code / 2 ** bit) & 1);
      if (bit === 0) tree[slot] = -(symbol + 1);
      else node = tree[slot] || (tree[slot] = nodes++);
    }
  }
  return tree;
}

const TREE = decodingTree();

export class HuffmanError extends Error {}

/**
 * Decodes a Huffman-coded string into out (at least bytes.length * 8 / 5
 * long) and returns how many bytes it wrote. Padding must be at most 7 bits,
 * all ones (a prefix of EOS), and EOS itself must not appear.
 */
export function huffmanDecode(bytes: Uint8Array, out: Uint8Array): number {
  let written = 0;
  let node = 0;
  let depth = 0;
  let allOnes = true;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >> bit) & 1;
      const next = TREE[2 * node + one]!;
      if (next < 0) {
        if (next === -(EOS + 1)) throw new HuffmanError("EOS in a Huffman-coded string");
        out[written++] = -next - 1;
        node = depth = 0;
        allOnes = true;
      } else {
        node = next;
        depth++;
        allOnes &&= one === 1;
      }
    }
  }
  if (depth > 7 || !allOnes) throw new HuffmanError("invalid Huffman padding");
  return written;
}
