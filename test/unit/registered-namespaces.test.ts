import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RegisteredNamespaces } from "../../server/namespaces/registered.js";

describe("RegisteredNamespaces", () => {
  it("knows a set of namespaces only once every one of them was added", () => {
    const registered = new RegisteredNamespaces();
    assert.equal(registered.allKnown(["a"]), false);
    registered.add(["a"]);
    assert.equal(registered.allKnown(["a"]), true);
    assert.equal(registered.allKnown(["a", "b"]), false);
    registered.add(["b"]);
    assert.equal(registered.allKnown(new Set(["b", "a"])), true);
  });

  it("keeps at most its limit, starting over when a new name would pass it", () => {
    const registered = new RegisteredNamespaces(2);
    registered.add(["a", "b"]);
    registered.add(["b"]);
    assert.equal(registered.allKnown(["a", "b"]), true);
    registered.add(["c"]);
    assert.equal(registered.allKnown(["c"]), true);
    assert.equal(registered.allKnown(["a"]), false);
    assert.equal(registered.allKnown(["b"]), false);
  });
});
