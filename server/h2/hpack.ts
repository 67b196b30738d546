import { huffmanDecode, HuffmanError } from "./hpack-huffman.js";

/** RFC 7541, Appendix A: indexes 1-61. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"], [":path", "/index.html"],
  [":scheme", "http"], [":scheme", "https"], [":status", "200"], [":status", "204"], [":status", "206"],
  [":status", "304"], [":status", "400"], [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""], ["accept", ""],
  ["access-control-allow-origin", ""], ["age", ""], ["allow", ""], ["authorization", ""], ["cache-control", ""],
  ["content-disposition", ""], ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""], ["date", ""], ["etag", ""],
  ["expect", ""], ["expires", ""], ["from", ""], ["host", ""], ["if-match", ""], ["if-modified-since", ""],
  ["if-none-match", ""], ["if-range", ""], ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""],
  ["location", ""], ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""],
  ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""], ["set-cookie", ""],
  ["strict-transport-security", ""], ["transfer-encoding", ""], ["user-agent", ""], ["vary", ""], ["via", ""],
  ["www-authenticate", ""],
];

/** RFC 7541 section 4.1: an entry's size counts 32 bytes of overhead. */
const ENTRY_OVERHEAD = 32;

/** A header block that cannot be decoded: the connection's compression state is lost. */
export class CompressionError extends Error {}

/** A header list larger than allowed: decoding stops, so this too ends the connection. */
export class HeaderListTooLarge extends Error {}

export type HeaderField = [name: string, value: string];

/** A decoder's dynamic table, newest entry first, and its size limit. */
export interface HpackDecoderSnapshot {
  entries: HeaderField[];
  maxSize: number;
}

/**
 * Decodes header blocks (RFC 7541) for one connection, keeping its dynamic
 * table. Names and values are taken as Latin-1, as Node's HTTP/2 does.
 */
export class HpackDecoder {
  private readonly dynamic: HeaderField[] = [];
  private dynamicSize = 0;
  private maxSize: number;
  private scratch = Buffer.allocUnsafe(256);

  /** tableSize: the SETTINGS_HEADER_TABLE_SIZE we announce (4,096 unless set). */
  constructor(private readonly tableSize = 4096) {
    this.maxSize = tableSize;
  }

  /** The dynamic table, for the same connection served on in another process. */
  snapshot(): HpackDecoderSnapshot {
    return { entries: this.dynamic.map(([name, value]) => [name, value]), maxSize: this.maxSize };
  }

  static restore(snapshot: HpackDecoderSnapshot, tableSize = 4096): HpackDecoder {
    const decoder = new HpackDecoder(tableSize);
    decoder.maxSize = Math.min(snapshot.maxSize, tableSize);
    for (const [name, value] of [...snapshot.entries].reverse()) decoder.insert([name, value]);
    return decoder;
  }

  /** The fields of one complete header block; maxListBytes as SETTINGS_MAX_HEADER_LIST_SIZE counts them. */
  decode(block: Uint8Array, maxListBytes: number): HeaderField[] {
    const fields: HeaderField[] = [];
    let listBytes = 0;
    let at = 0;
    const integer = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let value = block[at++]! & mask;
      if (value < mask) return value;
      for (let shift = 0; ; shift += 7) {
        if (at >= block.length || shift > 21) throw new CompressionError("invalid integer");
        const byte = block[at++]!;
        value += (byte & 0x7f) * 2 ** shift;
        if ((byte & 0x80) === 0) return value;
      }
    };
    const string = (): string => {
      if (at >= block.length) throw new CompressionError("truncated string");
      const huffman = (block[at]! & 0x80) !== 0;
      const length = integer(7);
      if (length > block.length - at) throw new CompressionError("truncated string");
      const bytes = block.subarray(at, (at += length));
      if (!huffman) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
      if (this.scratch.length < length * 2) this.scratch = Buffer.allocUnsafe(length * 2);
      try {
        return this.scratch.toString("latin1", 0, huffmanDecode(bytes, this.scratch));
      } catch (error) {
        throw error instanceof HuffmanError ? new CompressionError(error.message) : error;
      }
    };
    let sizeUpdateAllowed = true;
    while (at < block.length) {
      const first = block[at]!;
      let field: HeaderField;
      if (first & 0x80) {
        field = this.entry(integer(7));
      } else if (first & 0x40) {
        const index = integer(6);
        field = [index === 0 ? string() : this.entry(index)[0], string()];
        this.insert(field);
      } else if (first & 0x20) {
        if (!sizeUpdateAllowed) throw new CompressionError("table size update after a field");
        const size = integer(5);
        if (size > this.tableSize) throw new CompressionError("table size update above the announced limit");
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        const index = integer(4);
        field = [index === 0 ? string() : this.entry(index)[0], string()];
      }
      sizeUpdateAllowed = false;
      listBytes += field[0].length + field[1].length + ENTRY_OVERHEAD;
      if (listBytes > maxListBytes) throw new HeaderListTooLarge(`header list over ${maxListBytes} bytes`);
      fields.push(field);
    }
    return fields;
  }

  private entry(index: number): HeaderField {
    const field = index === 0 ? undefined : index <= STATIC_TABLE.length ? STATIC_TABLE[index - 1] : this.dynamic[index - STATIC_TABLE.length - 1];
    if (field === undefined) throw new CompressionError(`no header table entry ${index}`);
    return field as HeaderField;
  }

  private insert(field: HeaderField): void {
    const size = field[0].length + field[1].length + ENTRY_OVERHEAD;
    this.evict(size);
    if (size > this.maxSize) return; // RFC 7541 section 4.4: the table is left empty
    this.dynamic.unshift(field);
    this.dynamicSize += size;
  }

  /** Drops the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.dynamicSize + room > this.maxSize) {
      const [name, value] = this.dynamic.pop()!;
      this.dynamicSize -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

function writeInteger(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  value -= max;
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

function writeString(out: number[], text: string): void {
  writeInteger(out, text.length, 7, 0);
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i) & 0xff);
}

const STATIC_NAME_INDEX = new Map<string, number>();
for (const [i, [name]] of STATIC_TABLE.entries()) if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1);
const INDEXED_STATUS_200 = 0x88;

/**
 * Encodes a header block without touching any table: every field is a
 * literal "without indexing" (RFC 7541 section 6.2.2), its name taken from
 * the static table where it is there. Answers carry few fields, so keeping
 * no encoder state costs a few bytes and no bookkeeping. Values are Latin-1.
 */
export function encodeHeaderBlock(fields: Iterable<HeaderField>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    if (name === ":status" && value === "200") {
      out.push(INDEXED_STATUS_200);
      continue;
    }
    const index = STATIC_NAME_INDEX.get(name);
    if (index === undefined) {
      out.push(0);
      writeString(out, name);
    } else {
      writeInteger(out, index, 4, 0);
    }
    writeString(out, value);
  }
  return Buffer.from(out);
}
