// Random filter lists for the differential test: selectors built from the
// images the reference holds (so they match), fixed tricky strings (valid
// and invalid), and token soup that stresses the parser.
//
// Never an invalid regular expression: containerd matches nothing for one
// and we answer InvalidArgument, a deliberate difference tested on its own.

import type { PlainImage } from "./normalize.js";
import type { Random } from "./operations.js";
import { ANNOTATION_KEYS, DIGESTS, LABEL_KEYS, LABEL_VALUES, MEDIA_TYPES, NAMES } from "./pools.js";

/** Valid in Go 1.19's regexp (containerd 1.6.20) and in RE2 alike. */
export const VALID_REGEXES: readonly string[] = [
  "^docker\\.io/", "redis:[0-9]+", "(?i)REDIS", "^[a-z]+$", "\\pL", "\\p{Han}", "^.$", "^..$", "[[:upper:]]",
  "\\d", "\\bredis\\b", "x*", "a|b", "^(a|A)$", "(?s).", "🐳", "^\\x{1F433}", "\\Qa.b\\E", "(?U)a+", "[^a-z]",
  "é", "(?:redis|alpine)", "prod$", "^$|prod", "\\.", "json$", "^sha256:", "^sha(384|512):", "[\\p{Lu}]",
  "(?m)^x$", "\\S\\s\\S", "^\\w+$", "\\z", "\\A", "(?P<n>a)", "a{,3}", "[[:word:]]", "\\p{^L}", "\\PL",
  "(?im-s:x)", "\\p{Greek}", "ｚ", "[ｚ🐳]", "^.{1,3}$", "\\x{FF5A}", "[\\x00-\\x{10FFFF}]", "(|a)", "()", "$^",
  "\\t", "[\\t ]", "^$", "", ".",
];

export const FIXED_FILTERS: readonly string[] = [
  // valid
  "name", "labels", "annotations", "target", "target.digest", "target.mediatype", "target.size", "bogus",
  "name.x", "Name", '"name"', "labels.env", 'labels."a.b.c"', "labels.a.b.c", "labels.env==prod,labels.team",
  'labels."io.cri-containerd.image"==managed', 'labels."ns/key"', 'labels."with space"=="a b"', 'labels.env=="a b"',
  "labels.env!=prod", 'annotations."org.opencontainers.image.ref.name"==7', "annotations.a", " name",
  "name== redis", "name ==redis", "\u00a0name==redis", 'name==""', 'name!=""', 'name~=""', 'name=="\\x41"',
  'name=="\\u00e9"', 'name=="\\U0001F433/whale:1"', 'name=="\\xff"', 'labels."a\\"b"', "name~=/redis/",
  "name~=|redis|", 'name~="redis"', "name==a==b", "name==\u0001", "name==é", "labels.env==v,1", 'labels.""',
  'name.""', "name==docker.io/library/redis:7", 'name=="tab\\tname"', 'name=="quote\\"name"', 'name=="comma,name"',
  "target.mediatype~=json$", "labels.ключ", 'labels."ключ"', "labels.Env==prod", 'name=="\\101"',
  // invalid
  "name=x", "name==x ", "name==x ,name", "name ,name", "name>x", "name<x", 'name=="unterminated', 'labels."unterminated',
  "name~=/unterminated", "name~=|unterminated", ",", "name,", ",name", "name==a,", "labels.", ".name", "name..x",
  "name===x", "name!==x", "name=~x", "name~x", "name!x", "name==,", "name==.", "name==x,,y", "name==x y",
  'name=="\\q"', 'name=="\\400"', 'name=="\\x4"', 'name=="\\ud800"', "name==/x/", "name==|x|", "labels./x/",
  "labels.|x|", "name==x\u0000", "\u0000", "name\n==x", 'name=="a\nb"', " ", "\t", "==x", "!=x", "~=x",
  "name==redis\u200b", "name==x\u00a0", "labels.env.", "name==", "name~=", "labels.ключ==ü,", "é", "name.é",
];

// Any sequence of these is free of invalid regular expressions: no
// repetition operators, brackets, parentheses or bare backslashes.
const SOUP: readonly string[] = [
  "name", "labels", "annotations", "target", "digest", "mediatype", "env", ".", ".", ",", "==", "!=", "~=", "=",
  "!", "~", " ", "\t", '"a b"', '"env"', '"unterminated', "/x/", "|y|", "prod", "x", "é", "🐳", ">", "<", "_", "1",
  '"\\u00e9"', '"\\q"', "redis",
];

const FIELD = /^[A-Za-z0-9_]+$/;
const DOTTED_FIELDS = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+$/;
// Unquoted values: not starting with a rune that begins another token, then
// graphic runes other than "," and white space.
const UNQUOTED_VALUE = /^[^\s"/|,.=!~][^\s,]*$/u;
const GRAPHIC = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]*$/u;

/** Go's double-quoted string syntax accepts what JSON.stringify writes for well-formed strings. */
const goQuote = (s: string) => JSON.stringify(s);

const quoteMeta = (s: string) => s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");

function key(rng: Random, k: string): string {
  if (FIELD.test(k)) return rng.chance(0.8) ? k : goQuote(k);
  if (DOTTED_FIELDS.test(k) && rng.chance(0.5)) return k;
  return goQuote(k);
}

function value(rng: Random, v: string): string {
  if (UNQUOTED_VALUE.test(v) && GRAPHIC.test(v) && rng.chance(0.75)) return v;
  return goQuote(v);
}

function regexValue(rng: Random, pattern: string): string {
  const r = rng.next();
  if (r < 0.4 && UNQUOTED_VALUE.test(pattern) && GRAPHIC.test(pattern)) return pattern;
  if (r < 0.6 && !/[/\\\n]/.test(pattern)) return `/${pattern}/`;
  if (r < 0.7 && !/[|\\\n]/.test(pattern)) return `|${pattern}|`;
  return goQuote(pattern);
}

/** A pattern matching part of `text` (when given), else one from the list. */
function pattern(rng: Random, text: string | undefined): string {
  if (text === undefined || text === "" || rng.chance(0.5)) return rng.pick(VALID_REGEXES);
  const chars = Array.from(text);
  const start = rng.int(chars.length);
  const end = start + 1 + rng.int(chars.length - start);
  const body = quoteMeta(chars.slice(start, end).join(""));
  return `${start === 0 && rng.chance(0.5) ? "^" : ""}${body}${end === chars.length && rng.chance(0.5) ? "$" : ""}`;
}

interface Field {
  path: string;
  /** The chosen image's value for the field, if it has one. */
  value: string | undefined;
}

function mapField(rng: Random, prefix: string, map: Record<string, string> | undefined, pool: readonly string[]): Field {
  const held = Object.keys(map ?? {});
  const k = held.length > 0 && rng.chance(0.7) ? rng.pick(held) : rng.pick(pool);
  return { path: `${prefix}.${key(rng, k)}`, value: map?.[k] };
}

function field(rng: Random, image: PlainImage | undefined): Field {
  const r = rng.next();
  if (r < 0.3) return { path: rng.chance(0.95) ? "name" : '"name"', value: image?.name };
  if (r < 0.4) return { path: "target.digest", value: image?.target?.digest };
  if (r < 0.47) return { path: "target.mediatype", value: image?.target?.mediaType };
  if (r < 0.75) return mapField(rng, "labels", image?.labels, LABEL_KEYS);
  if (r < 0.9) return mapField(rng, "annotations", image?.target?.annotations, ANNOTATION_KEYS);
  const odd = ["labels", "target", "target.size", "bogus", "name.x", "Name", "target.mediaType", "annotations", "labels.env.x"];
  return { path: rng.pick(odd), value: undefined };
}

function otherValue(rng: Random): string {
  return rng.pick([rng.pick(NAMES), rng.pick(DIGESTS), rng.pick(MEDIA_TYPES), rng.pick(LABEL_VALUES), "x"]);
}

function selector(rng: Random, images: readonly PlainImage[]): string {
  const image = images.length > 0 && rng.chance(0.8) ? rng.pick(images) : undefined;
  const { path, value: held } = field(rng, image);
  const operator = rng.pick(["", "==", "==", "!=", "~=", "~="]);
  if (operator === "") return path;
  const space = () => (rng.chance(0.05) ? " " : "");
  const text = held !== undefined && rng.chance(0.7) ? held : otherValue(rng);
  const token = operator === "~=" ? regexValue(rng, pattern(rng, text)) : value(rng, text);
  return `${path}${space()}${operator}${space()}${token}`;
}

function soup(rng: Random): string {
  return Array.from({ length: 1 + rng.int(8) }, () => rng.pick(SOUP)).join("");
}

function filterString(rng: Random, images: readonly PlainImage[]): string {
  const r = rng.next();
  if (r < 0.15) return rng.pick(FIXED_FILTERS);
  if (r < 0.25) return soup(rng);
  const selectors = Array.from({ length: rng.chance(0.7) ? 1 : 2 + rng.int(2) }, () => selector(rng, images));
  return selectors.join(rng.chance(0.9) ? "," : rng.pick([", ", " ,", ",,"]));
}

/** OR across strings, AND within one; [] and [""] match everything. */
export function randomFilters(rng: Random, images: readonly PlainImage[]): string[] {
  const r = rng.next();
  if (r < 0.06) return [];
  if (r < 0.09) return [""];
  return Array.from({ length: rng.chance(0.7) ? 1 : 2 + rng.int(2) }, () => filterString(rng, images));
}
