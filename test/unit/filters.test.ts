// Table tests for the filter language (server/filters). Expectations follow
// containerd 1.6's filters package and metadata image adaptor; positions in
// error messages are 1-based code points.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RE2JS } from "re2js";
import { InvalidArgumentError } from "../../server/errors.js";
import type { Image } from "../../server/images/image.js";
import { parseFilters, type Filter, type Selector } from "../../server/filters/parse.js";
import { matches, type FieldAdaptor } from "../../server/filters/match.js";
import { imageFields } from "../../server/filters/image-fields.js";

const INDEX = "application/vnd.oci.image.index.v1+json";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DIGEST = { redis: "sha256:" + "a1".repeat(32), alpine: "sha256:" + "b2".repeat(32), tool: "sha256:" + "c3".repeat(32) };

function image(name: string, digest: string, mediaType: string, labels: Record<string, string>, annotations: Record<string, string> = {}): Image {
  const at = new Date(0);
  return { name, labels, target: { mediaType, digest, size: 1n, annotations }, createdAt: at, updatedAt: at };
}

const CORPUS = {
  redis: image(
    "docker.io/library/redis:7",
    DIGEST.redis,
    INDEX,
    { env: "prod", team: "a b", "ns/key": "v", "io.cri-containerd.image": "managed", "a.b": "dotted" },
    { "org.opencontainers.image.ref.name": "7" },
  ),
  alpine: image("docker.io/library/alpine:3.19", DIGEST.alpine, MANIFEST, { env: "dev", team: "core", 'back\\slash "q"': "yes" }),
  tool: image("ghcr.io/acme/tool:1.0", DIGEST.tool, MANIFEST, {}),
};
type Key = keyof typeof CORPUS;
const ALL: Key[] = ["redis", "alpine", "tool"];

function matching(filter: Filter): Key[] {
  return ALL.filter((key) => matches(filter, imageFields(CORPUS[key])));
}

/** The AST without compiled regexps, for deepEqual. */
function plain(filter: Filter): object[][] {
  return filter.anyOf.map((all) =>
    all.map((s: Selector) => (s.operator === undefined ? { fieldpath: s.fieldpath } : { fieldpath: s.fieldpath, operator: s.operator, value: s.value })),
  );
}

const eq = (path: string[], value: string) => ({ fieldpath: path, operator: "==", value });
const ne = (path: string[], value: string) => ({ fieldpath: path, operator: "!=", value });
const re = (path: string[], value: string) => ({ fieldpath: path, operator: "~=", value });
const has = (path: string[]) => ({ fieldpath: path });

describe("parse and match one filter string", () => {
  const rows: { input: string; ast: object[]; want: Key[] }[] = [
    { input: "name==docker.io/library/redis:7", ast: [eq(["name"], "docker.io/library/redis:7")], want: ["redis"] },
    { input: "name~=^docker\\.io/", ast: [re(["name"], "^docker\\.io/")], want: ["redis", "alpine"] },
    { input: "name~=/redis:[0-9]+/", ast: [re(["name"], "redis:[0-9]+")], want: ["redis"] },
    { input: "labels.env==prod,labels.team", ast: [eq(["labels", "env"], "prod"), has(["labels", "team"])], want: ["redis"] },
    { input: 'labels."ns/key"==v', ast: [eq(["labels", "ns/key"], "v")], want: ["redis"] },
    { input: 'labels.team=="a b"', ast: [eq(["labels", "team"], "a b")], want: ["redis"] },
    { input: `target.digest==${DIGEST.redis}`, ast: [eq(["target", "digest"], DIGEST.redis)], want: ["redis"] },
    {
      input: 'annotations."org.opencontainers.image.ref.name"==7',
      ast: [eq(["annotations", "org.opencontainers.image.ref.name"], "7")],
      want: ["redis"],
    },
    { input: 'labels."io.cri-containerd.image"==managed', ast: [eq(["labels", "io.cri-containerd.image"], "managed")], want: ["redis"] },
    { input: `target.mediatype==${MANIFEST}`, ast: [eq(["target", "mediatype"], MANIFEST)], want: ["alpine", "tool"] },
    { input: `target.mediaType==${MANIFEST}`, ast: [eq(["target", "mediaType"], MANIFEST)], want: [] },
    { input: "name~=|alpine|", ast: [re(["name"], "alpine")], want: ["alpine"] },
    { input: "name~=|library/redis|", ast: [re(["name"], "library/redis")], want: ["redis"] },
    { input: "name~=/library\\/redis/", ast: [re(["name"], "library/redis")], want: ["redis"] },
    { input: "name~=[abc]\\+", ast: [re(["name"], "[abc]\\+")], want: [] },
    { input: "name~=redis", ast: [re(["name"], "redis")], want: ["redis"] },
    { input: "name~=(?i)REDIS", ast: [re(["name"], "(?i)REDIS")], want: ["redis"] },
    { input: 'name=="docker.io/library/redis:7"', ast: [eq(["name"], "docker.io/library/redis:7")], want: ["redis"] },
    // the rest of the path is joined with "." to form the label key
    { input: "labels.a.b==dotted", ast: [eq(["labels", "a", "b"], "dotted")], want: ["redis"] },
    { input: 'labels."a\\x2eb"==dotted', ast: [eq(["labels", "a.b"], "dotted")], want: ["redis"] },
    { input: 'labels."\\u0065nv"==prod', ast: [eq(["labels", "env"], "prod")], want: ["redis"] },
    { input: 'labels."back\\\\slash \\"q\\""==yes', ast: [eq(["labels", 'back\\slash "q"'], "yes")], want: ["alpine"] },
    { input: 'name=="\\xc3\\xa9"', ast: [eq(["name"], "é")], want: [] },
    { input: "name!=docker.io/library/redis:7", ast: [ne(["name"], "docker.io/library/redis:7")], want: ["alpine", "tool"] },
    { input: "labels.env!=prod", ast: [ne(["labels", "env"], "prod")], want: ["alpine", "tool"] },
    { input: "labels.env", ast: [has(["labels", "env"])], want: ["redis", "alpine"] },
    { input: "labels.env~=^$", ast: [re(["labels", "env"], "^$")], want: ["tool"] },
    { input: 'labels.env~=""', ast: [re(["labels", "env"], "")], want: ["redis", "alpine", "tool"] },
    { input: "labels.env~=^(prod|dev)$,name!=docker.io/library/alpine:3.19", ast: [re(["labels", "env"], "^(prod|dev)$"), ne(["name"], "docker.io/library/alpine:3.19")], want: ["redis"] },
    { input: "name == docker.io/library/alpine:3.19", ast: [eq(["name"], "docker.io/library/alpine:3.19")], want: ["alpine"] },
    { input: " \tname,labels.team", ast: [has(["name"]), has(["labels", "team"])], want: ["redis", "alpine"] },
    { input: "labels. team==core", ast: [eq(["labels", "team"], "core")], want: ["alpine"] },
    { input: "labels.team==core, name~=alpine", ast: [eq(["labels", "team"], "core"), re(["name"], "alpine")], want: ["alpine"] },
    { input: "name==docker.io/library/redis:7,name==docker.io/library/alpine:3.19", ast: [eq(["name"], "docker.io/library/redis:7"), eq(["name"], "docker.io/library/alpine:3.19")], want: [] },
    { input: "labels.env==prod=x", ast: [eq(["labels", "env"], "prod=x")], want: [] },
    { input: 'name==a"b', ast: [eq(["name"], 'a"b')], want: [] },
    { input: "name~=牛", ast: [re(["name"], "牛")], want: [] },
    { input: "labels.1==x", ast: [eq(["labels", "1"], "x")], want: [] },
    { input: 'labels.""', ast: [has(["labels", ""])], want: [] },
    { input: "labels", ast: [has(["labels"])], want: [] },
    { input: "target", ast: [has(["target"])], want: [] },
    { input: "size", ast: [has(["size"])], want: [] },
    { input: "createdAt", ast: [has(["createdAt"])], want: [] },
    { input: "unknown!=x", ast: [ne(["unknown"], "x")], want: ["redis", "alpine", "tool"] },
    { input: 'unknown!=""', ast: [ne(["unknown"], "")], want: [] },
    { input: "unknown~=|.|", ast: [re(["unknown"], ".")], want: [] },
    // containerd's adaptor only looks at the leading path elements
    { input: "name.extra", ast: [has(["name", "extra"])], want: ["redis", "alpine", "tool"] },
    { input: `target.digest.extra==${DIGEST.tool}`, ast: [eq(["target", "digest", "extra"], DIGEST.tool)], want: ["tool"] },
  ];
  for (const { input, ast, want } of rows) {
    test(JSON.stringify(input), () => {
      const filter = parseFilters([input]);
      assert.deepEqual(plain(filter), [ast]);
      for (const s of filter.anyOf[0]!) {
        if (s.operator === "~=") assert.ok(s.regexp instanceof RE2JS && s.regexp.pattern() === s.value);
      }
      assert.deepEqual(matching(filter), want);
    });
  }
});

describe("lists of filter strings: OR across strings, AND within one", () => {
  const rows: { filters: string[]; ast?: object[][]; want: Key[] }[] = [
    { filters: [], ast: [[]], want: ALL },
    { filters: [""], ast: [[]], want: ALL },
    { filters: ["name==nothing", ""], ast: [[eq(["name"], "nothing")], []], want: ALL },
    { filters: ["labels.env==prod", "labels.env==dev"], want: ["redis", "alpine"] },
    { filters: ["labels.env==prod,labels.env==dev"], want: [] },
    { filters: ["name~=alpine", `target.digest==${DIGEST.tool}`], want: ["alpine", "tool"] },
    { filters: ["name==nothing", "labels.nothing"], want: [] },
  ];
  for (const { filters, ast, want } of rows) {
    test(JSON.stringify(filters), () => {
      const filter = parseFilters(filters);
      if (ast) assert.deepEqual(plain(filter), ast);
      assert.deepEqual(matching(filter), want);
    });
  }
});

describe("selector semantics on present, empty and absent fields", () => {
  const fields: Record<string, string> = { a: "x", e: "" };
  const adaptor: FieldAdaptor = (path) => (Object.hasOwn(fields, path.join(".")) ? fields[path.join(".")] : undefined);
  const rows: [string, boolean][] = [
    ["a", true], ["e", true], ["b", false],
    ["a==x", true], ["b==x", false], ['e==""', true], ['b==""', false],
    ["a!=x", false], ["a!=y", true], ["b!=x", true], ['b!=""', false], ['e!=""', false],
    ["a~=x", true], ["b~=^$", true], ["b~=/./", false], ['b~=""', true], ["e~=^$", true],
    ["a,b", false], ["a==x,e", true], ["a==x,b!=x", true],
  ];
  for (const [input, want] of rows) {
    test(`${input} -> ${want}`, () => assert.equal(matches(parseFilters([input]), adaptor), want));
  }
});

describe("RE2 semantics for ~= (not JS RegExp)", () => {
  const rows: { pattern: string; subject: string; want: boolean | "invalid" }[] = [
    { pattern: "a\\z", subject: "a", want: true },
    { pattern: "(?P<n>x)", subject: "x", want: true },
    { pattern: "(?<n>x)", subject: "x", want: true },
    { pattern: "\\pL", subject: "é", want: true },
    { pattern: "^.$", subject: "😀", want: true },
    { pattern: "[[:alpha:]]+", subject: "abc", want: true },
    { pattern: "\\Qa.b\\E", subject: "axb", want: false },
    { pattern: "\\Qa.b\\E", subject: "a.b", want: true },
    { pattern: "(?s)a.b", subject: "a\nb", want: true },
    { pattern: "a.b", subject: "a\nb", want: false },
    { pattern: "a$", subject: "a\n", want: false },
    { pattern: "\\d", subject: "٣", want: false },
    { pattern: "(?=x)", subject: "x", want: "invalid" },
    { pattern: "x(?!y)", subject: "x", want: "invalid" },
    { pattern: "(?<=a)b", subject: "ab", want: "invalid" },
    { pattern: "(a)\\1", subject: "aa", want: "invalid" },
    { pattern: "\\Z", subject: "Z", want: "invalid" },
    { pattern: "a{1001}", subject: "a", want: "invalid" },
    { pattern: "x*+", subject: "x", want: "invalid" },
  ];
  for (const { pattern, subject, want } of rows) {
    test(`${pattern} on ${JSON.stringify(subject)} -> ${want}`, () => {
      const input = `v~=${pattern}`;
      if (want === "invalid") {
        assert.throws(() => parseFilters([input]), (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError);
          assert.match(err.message, /^filters: parse error: \[v~= >\|.*\]: error parsing regexp: .* at position 4$/s);
          return true;
        });
        return;
      }
      assert.equal(matches(parseFilters([input]), () => subject), want);
    });
  }
});

describe("parse errors are InvalidArgumentError pointing at the offending character", () => {
  // position is 1-based, in code points
  const rows: { input: string; position: number; message: string; exact?: string }[] = [
    { input: "name=foo", position: 5, message: 'unsupported operator "="', exact: 'filters: parse error: [name >|=|< foo]: unsupported operator "=" at position 5' },
    { input: "name===x", position: 5, message: 'unsupported operator "==="' },
    { input: "name!x", position: 5, message: 'unsupported operator "!"' },
    { input: "name>foo", position: 5, message: "expected an operator" },
    { input: "name foo", position: 6, message: "expected an operator" },
    { input: "name ", position: 6, message: "expected an operator", exact: 'filters: parse error: [name  >||< ]: expected an operator ("=="|"!="|"~=") at position 6 (end of input)' },
    { input: "name ,x", position: 6, message: "expected an operator" },
    { input: 'labels."a"b', position: 11, message: "expected an operator" },
    { input: "name==foo ", position: 10, message: 'unexpected input " "', exact: 'filters: parse error: [name==foo >| |< ]: unexpected input " " at position 10' },
    { input: "name==foo\t", position: 10, message: 'unexpected input "\\t"' },
    { input: "name==牛 ", position: 8, message: 'unexpected input " "' },
    { input: 'name=="a"b', position: 10, message: 'unexpected input "b"' },
    { input: 'labels."abc', position: 8, message: "quoted literal not terminated" },
    { input: 'labels."a\nb"==x', position: 8, message: "quoted literal not terminated" },
    { input: 'name=="abc', position: 7, message: "quoted literal not terminated" },
    { input: "name~=/abc", position: 7, message: "quoted literal not terminated" },
    { input: "labels.ns/key==value", position: 10, message: "quoted literal not terminated", exact: "filters: parse error: [labels.ns >|/|< key==value]: quoted literal not terminated at position 10" },
    { input: "labels.", position: 8, message: "expected field or quoted", exact: "filters: parse error: [labels. >||< ]: expected field or quoted at position 8 (end of input)" },
    { input: "labels..a", position: 8, message: "expected field or quoted" },
    { input: ",name", position: 1, message: "expected field or quoted" },
    { input: "name,,x", position: 6, message: "expected field or quoted" },
    { input: "name==foo,", position: 11, message: "expected field or quoted" },
    { input: " ", position: 2, message: "expected field or quoted" },
    { input: 'labels.?"x"', position: 8, message: "expected field or quoted" },
    { input: "labels.é", position: 8, message: "expected field or quoted" },
    { input: "labels.😀==x", position: 8, message: "expected field or quoted" },
    { input: "name==", position: 7, message: "expected value or quoted" },
    { input: "name!=", position: 7, message: "expected value or quoted" },
    { input: "name== ", position: 8, message: "expected value or quoted" },
    { input: "name==.foo", position: 7, message: "expected value or quoted" },
    { input: "name~=.*", position: 7, message: "expected value or quoted" },
    { input: "name== =x", position: 8, message: "expected value or quoted" },
    { input: "image~=,id?=?fbaq", position: 8, message: "expected value or quoted", exact: "filters: parse error: [image~= >|,|< id?=?fbaq]: expected value or quoted at position 8" },
    { input: "name==/foo/", position: 7, message: "invalid quote encountered" },
    { input: "labels.|foo|==x", position: 8, message: "invalid quote encountered" },
    { input: "name~=[", position: 7, message: "error parsing regexp: missing closing ]: `[`", exact: "filters: parse error: [name~= >|[|< ]: error parsing regexp: missing closing ]: `[` at position 7" },
    { input: "name~=/[/", position: 7, message: "error parsing regexp: missing closing ]" },
    { input: "name~=(?=x)", position: 7, message: "error parsing regexp: invalid or unsupported Perl syntax" },
    { input: 'labels."\\g"==x', position: 9, message: "illegal escape sequence" },
    { input: 'name=="\\\'"', position: 8, message: "illegal escape sequence" },
    { input: 'name=="\\', position: 8, message: "illegal escape sequence" },
    { input: "name~=/\\d+/", position: 8, message: "illegal escape sequence" },
    { input: "name~=|a\\/b|", position: 9, message: "illegal escape sequence" },
    { input: 'labels."\\xZZ"', position: 9, message: "illegal numeric escape sequence" },
    { input: 'name=="\\777"', position: 8, message: "illegal numeric escape sequence" },
    { input: 'name=="\\08"', position: 8, message: "illegal numeric escape sequence" },
    { input: 'name=="\\U00110000"', position: 8, message: "illegal numeric escape sequence" },
    { input: "a\0b", position: 2, message: "unexpected null" },
    { input: "name==a\0", position: 8, message: 'unexpected input "\\u0000"' },
    { input: "name==\uFFFD", position: 7, message: "rune error" },
  ];
  for (const { input, position, message, exact } of rows) {
    test(JSON.stringify(input), () => {
      assert.throws(() => parseFilters(["labels.ok", input]), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `not InvalidArgumentError: ${String(err)}`);
        if (exact !== undefined) assert.equal(err.message, exact);
        assert.ok(err.message.startsWith("filters: parse error: ["), err.message);
        assert.ok(err.message.includes(`]: ${message}`), err.message);
        assert.match(err.message, new RegExp(` at position ${position}( \\(end of input\\))?$`));
        const chars = Array.from(input);
        const marker = `${chars.slice(0, position - 1).join("")} >|${chars[position - 1] ?? ""}|< ${chars.slice(position).join("")}]`;
        assert.ok(err.message.includes(`[${marker}`), `marker ${marker} not in ${err.message}`);
        return true;
      });
    });
  }
});

describe("which error is reported", () => {
  const rows: { filters: string[]; message: string }[] = [
    // containerd accepts bad regexps, so its syntax errors come first, even in a later string
    { filters: ["name~=[,name=x"], message: 'filters: parse error: [name~=[,name >|=|< x]: unsupported operator "=" at position 13' },
    { filters: ["name~=[", "name=x"], message: 'filters: parse error: [name >|=|< x]: unsupported operator "=" at position 5' },
    { filters: ["name==ok", "name~=(", "name~=["], message: "filters: parse error: [name~= >|(|< ]: error parsing regexp: missing closing ): `(` at position 7" },
    { filters: ["name=a", "name=b"], message: 'filters: parse error: [name >|=|< a]: unsupported operator "=" at position 5' },
  ];
  for (const { filters, message } of rows) {
    test(JSON.stringify(filters), () => {
      assert.throws(() => parseFilters(filters), (err: unknown) => err instanceof InvalidArgumentError && err.message === message);
    });
  }
});

describe("imageFields follows containerd's image adaptor", () => {
  const redis = imageFields(CORPUS.redis);
  const rows: [string[], string | undefined][] = [
    [["name"], "docker.io/library/redis:7"],
    [["name", "x"], "docker.io/library/redis:7"],
    [["Name"], undefined],
    [[], undefined],
    [["target"], undefined],
    [["target", "digest"], DIGEST.redis],
    [["target", "digest", "x"], DIGEST.redis],
    [["target", "mediatype"], INDEX],
    [["target", "mediaType"], undefined],
    [["target", "media_type"], undefined],
    [["target", "size"], undefined],
    [["labels", "env"], "prod"],
    [["labels", "a", "b"], "dotted"],
    [["labels", "a.b"], "dotted"],
    [["labels", "nope"], undefined],
    [["labels", "constructor"], undefined],
    [["labels", "__proto__"], undefined],
    [["labels"], undefined],
    [["annotations", "org.opencontainers.image.ref.name"], "7"],
    [["annotations", "org", "opencontainers", "image", "ref", "name"], "7"],
    [["createdAt"], undefined],
    [["updatedAt"], undefined],
  ];
  for (const [path, want] of rows) {
    test(`${JSON.stringify(path)} -> ${want}`, () => assert.equal(redis(path), want));
  }

  test("empty strings are absent, empty label values are present", () => {
    const blank = imageFields(image("", "", "", { empty: "" }));
    assert.equal(blank(["name"]), undefined);
    assert.equal(blank(["target", "digest"]), undefined);
    assert.equal(blank(["target", "mediatype"]), undefined);
    assert.equal(blank(["labels", "empty"]), "");
    assert.equal(matches(parseFilters(["labels.empty"]), blank), true);
    assert.equal(matches(parseFilters(["name"]), blank), false);
  });
});
