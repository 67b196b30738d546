// containerd's filter language (its filters package, 1.6 behaviour):
//
//   selectors := selector ("," selector)*
//   selector  := fieldpath [operator value]
//   fieldpath := field ("." field)*
//   field     := [A-Za-z0-9_]+ | "double quoted"
//   operator  := "==" | "!=" | "~="
//   value     := [^\s,]+ | "double quoted" | /slashed/ or |piped| (only for ~=)
//
// Tokens are scanned for what the parser expects next rather than by
// containerd's stateful scanner; the accepted language is the same.
// Deliberate differences in errors: positions are 1-based code points (also
// marked at end of input), a bad escape is marked at its backslash, and an
// invalid regexp is an error (containerd silently matches nothing).

import { RE2JS, RE2JSException } from "re2js";
import { InvalidArgumentError } from "../errors.js";

export type Operator = "==" | "!=" | "~=";

/** No operator means "the field is present". */
export type Selector =
  | { fieldpath: string[]; operator?: undefined; value?: undefined }
  | { fieldpath: string[]; operator: "==" | "!="; value: string }
  | { fieldpath: string[]; operator: "~="; value: string; regexp: RE2JS };

/**
 * Matches when any alternative (one per filter string) has all of its
 * selectors matching. An empty alternative matches everything, so both an
 * empty filter list and a "" filter string match everything.
 */
export interface Filter {
  readonly anyOf: readonly (readonly Selector[])[];
}

/** Throws InvalidArgumentError for a malformed filter or regular expression. */
export function parseFilters(filters: readonly string[]): Filter {
  if (filters.length === 0) return { anyOf: [[]] };
  // Every string is parsed before any regexp is compiled so that, where
  // containerd rejects the list, we report the same syntax error it does.
  const parsers = filters.map((f) => new Parser(f));
  return { anyOf: parsers.map((p) => p.selectors()) };
}

/** A selector before its regexp is compiled. */
type Parsed =
  | { fieldpath: string[]; operator?: undefined }
  | { fieldpath: string[]; operator: Operator; value: string; valueAt: number };

const QUOTES = new Set(['"', "/", "|"]);
const OPERATOR_RUNES = new Set(["=", "!", "~"]);
const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };
const WHITE_SPACE = /^\p{White_Space}$/u;
// Go's unicode.IsGraphic: letters, marks, numbers, punctuation, symbols, spaces.
const GRAPHIC = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u;
const utf8 = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF instead of stripping it.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

function isSpace(ch: string): boolean {
  return WHITE_SPACE.test(ch);
}

function isFieldRune(ch: string): boolean {
  return /^[A-Za-z0-9_]$/.test(ch);
}

function isValueRune(ch: string): boolean {
  return ch !== "," && !isSpace(ch) && illegalRune(ch) === undefined && GRAPHIC.test(ch);
}

/** Runes containerd's scanner rejects wherever they appear. */
function illegalRune(ch: string): string | undefined {
  if (ch === "\0") return "unexpected null";
  const unit = ch.charCodeAt(0);
  const loneSurrogate = ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff;
  // U+FFFD is how undecodable input reaches us; Go reports it as a rune error.
  return ch === "\uFFFD" || loneSurrogate ? "rune error" : undefined;
}

class Parser {
  private readonly chars: string[];
  private pos = 0;
  private readonly parsed: Parsed[];

  /** Throws for syntax errors; "" is the empty selector list. */
  constructor(input: string) {
    this.chars = Array.from(input);
    this.parsed = input === "" ? [] : this.parseSelectors();
  }

  /** Throws for an invalid regexp. */
  selectors(): Selector[] {
    return this.parsed.map((p) => {
      if (p.operator === undefined) return { fieldpath: p.fieldpath };
      const { fieldpath, operator, value } = p;
      if (operator !== "~=") return { fieldpath, operator, value };
      return { fieldpath, operator, value, regexp: this.compile(value, p.valueAt) };
    });
  }

  private parseSelectors(): Parsed[] {
    const all = [this.selector()];
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (ch !== ",") this.fail(this.pos, `unexpected input ${JSON.stringify(ch)}`);
      this.pos++;
      all.push(this.selector());
    }
    return all;
  }

  private selector(): Parsed {
    const fieldpath = this.fieldpath();
    const next = this.peek();
    if (next === undefined || next === ",") return { fieldpath };
    const operator = this.operator();
    const valueAt = this.tokenStart();
    return { fieldpath, operator, value: this.value(operator === "~="), valueAt };
  }

  private fieldpath(): string[] {
    const path = [this.field()];
    while (this.peek() === ".") {
      this.pos++;
      path.push(this.field());
    }
    return path;
  }

  private field(): string {
    const start = this.tokenStart();
    const ch = this.chars[start];
    if (ch !== undefined && QUOTES.has(ch)) return this.quoted(false);
    if (ch === undefined || !isFieldRune(ch)) this.fail(start, "expected field or quoted");
    return this.run(isFieldRune);
  }

  private operator(): Operator {
    const start = this.tokenStart();
    const ch = this.chars[start];
    // containerd scans a quoted token here too, so its errors take precedence.
    if (ch !== undefined && QUOTES.has(ch)) this.quoted(true);
    if (ch === undefined || !OPERATOR_RUNES.has(ch)) {
      this.fail(start, 'expected an operator ("=="|"!="|"~=")');
    }
    const op = this.run((c) => OPERATOR_RUNES.has(c));
    if (op === "==" || op === "!=" || op === "~=") return op;
    return this.fail(start, `unsupported operator ${JSON.stringify(op)}`);
  }

  // The first rune of an unquoted value only has to avoid the runes that
  // start other tokens; the rest must be graphic, non-space and not ",".
  private value(allowAltQuotes: boolean): string {
    const start = this.tokenStart();
    const ch = this.chars[start];
    if (ch !== undefined && QUOTES.has(ch)) return this.quoted(allowAltQuotes);
    if (ch === undefined || ch === "," || ch === "." || OPERATOR_RUNES.has(ch)) {
      this.fail(start, "expected value or quoted");
    }
    this.pos++;
    return ch + this.run(isValueRune);
  }

  /** Scans a quoted token at the current position and returns its decoded text. */
  private quoted(allowAltQuotes: boolean): string {
    const start = this.pos;
    const quote = this.chars[this.pos++]!;
    const bytes: number[] = [];
    for (let ch = this.chars[this.pos]; ch !== quote; ch = this.chars[this.pos]) {
      if (ch === undefined || ch === "\n") this.fail(start, "quoted literal not terminated");
      this.checkLegal(this.pos);
      this.pos++;
      if (ch === "\\") this.escape(quote, bytes);
      else bytes.push(...utf8.encode(ch));
    }
    this.pos++;
    if (quote !== '"' && !allowAltQuotes) this.fail(start, "invalid quote encountered");
    // Byte escapes (\xNN, \NNN) may form UTF-8 sequences, as in Go; invalid
    // sequences decode to U+FFFD.
    return utf8Decoder.decode(Uint8Array.from(bytes));
  }

  /** Decodes the Go string escape after a backslash into `out`. */
  private escape(quote: string, out: number[]): void {
    const at = this.pos - 1;
    const ch = this.chars[this.pos++];
    if (ch === quote || ch === "\\") out.push(ch.charCodeAt(0));
    else if (ch !== undefined && Object.hasOwn(SIMPLE_ESCAPES, ch)) out.push(SIMPLE_ESCAPES[ch]!);
    else if (ch !== undefined && /^[0-7]$/.test(ch)) {
      this.pos--;
      out.push(this.digits(3, 8, at, 0xff));
    } else if (ch === "x") out.push(this.digits(2, 16, at, 0xff));
    else if (ch === "u" || ch === "U") {
      const rune = this.digits(ch === "u" ? 4 : 8, 16, at, 0x10ffff);
      const surrogate = rune >= 0xd800 && rune <= 0xdfff;
      out.push(...utf8.encode(surrogate ? "\uFFFD" : String.fromCodePoint(rune)));
    } else this.fail(at, "illegal escape sequence");
  }

  private digits(count: number, radix: 8 | 16, at: number, max: number): number {
    const text = this.chars.slice(this.pos, this.pos + count).join("");
    const valid = radix === 8 ? /^[0-7]+$/ : /^[0-9A-Fa-f]+$/;
    if (text.length !== count || !valid.test(text) || parseInt(text, radix) > max) {
      this.fail(at, "illegal numeric escape sequence");
    }
    this.pos += count;
    return parseInt(text, radix);
  }

  private compile(pattern: string, at: number): RE2JS {
    try {
      return RE2JS.compile(pattern);
    } catch (err) {
      if (err instanceof RE2JSException) this.fail(at, err.message);
      throw err;
    }
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  /** Skips white space and returns where the next token starts. */
  private tokenStart(): number {
    while (this.pos < this.chars.length && isSpace(this.chars[this.pos]!)) this.pos++;
    this.checkLegal(this.pos);
    return this.pos;
  }

  private checkLegal(at: number): void {
    const ch = this.chars[at];
    const problem = ch === undefined ? undefined : illegalRune(ch);
    if (problem !== undefined) this.fail(at, problem);
  }

  private run(accept: (ch: string) => boolean): string {
    const start = this.pos;
    while (this.pos < this.chars.length && accept(this.chars[this.pos]!)) this.pos++;
    return this.chars.slice(start, this.pos).join("");
  }

  /** `[before >|offending|< after]`, as containerd prints it, plus a 1-based position. */
  private fail(at: number, message: string): never {
    const before = this.chars.slice(0, at).join("");
    const after = this.chars.slice(at + 1).join("");
    const where = at < this.chars.length ? `at position ${at + 1}` : `at position ${at + 1} (end of input)`;
    throw new InvalidArgumentError(
      `filters: parse error: [${before} >|${this.chars[at] ?? ""}|< ${after}]: ${message} ${where}`,
    );
  }
}
