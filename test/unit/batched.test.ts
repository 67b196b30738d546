import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { batched } from "../../server/db/batched.js";

/** Records how calls were run; a batch or a single run ends when the test says. */
function recorder() {
  const runs: string[] = [];
  const gates: Array<() => void> = [];
  const gate = () => new Promise<void>((resolve) => gates.push(resolve));
  const open = async () => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { runs, gate, open };
}

describe("batched calls", () => {
  it("runs a lone call at once, alone", async () => {
    const { runs } = recorder();
    const call = batched<number, number>(
      async (items) => (runs.push(`batch ${items}`), items.map((i) => i * 10)),
      async (item) => (runs.push(`one ${item}`), item * 10),
      8,
    );
    assert.equal(await call(1), 10);
    assert.equal(await call(2), 20);
    assert.deepEqual(runs, ["one 1", "one 2"]);
  });

  it("groups the calls made while a run is in flight, at most maxBatch at a time, answering each its own", async () => {
    const { runs, gate, open } = recorder();
    const call = batched<number, number>(
      async (items) => (runs.push(`batch ${items}`), await gate(), items.map((i) => i * 10)),
      async (item) => (runs.push(`one ${item}`), await gate(), item * 10),
      3,
    );
    const results = [1, 2, 3, 4, 5, 6].map((i) => call(i));
    await open(); // one 1
    await open(); // batch 2,3,4
    await open(); // batch 5,6
    assert.deepEqual(await Promise.all(results), [10, 20, 30, 40, 50, 60]);
    assert.deepEqual(runs, ["one 1", "batch 2,3,4", "batch 5,6"]);
  });

  it("runs a failed batch's calls one by one, so only the bad one fails", async () => {
    const { runs, gate, open } = recorder();
    const call = batched<number, number>(
      async (items) => {
        runs.push(`batch ${items}`);
        throw new Error("batch failed");
      },
      async (item) => {
        runs.push(`one ${item}`);
        if (item === 1) await gate();
        if (item === 3) throw new Error("3 is bad");
        return item * 10;
      },
      8,
    );
    const first = call(1);
    const rest = [2, 3, 4].map((i) => call(i).catch((e: Error) => e.message));
    await open();
    assert.equal(await first, 10);
    assert.deepEqual(await Promise.all(rest), [20, "3 is bad", 40]);
    assert.deepEqual(runs, ["one 1", "batch 2,3,4", "one 2", "one 3", "one 4"]);
  });

  it("keeps serving after a failure", async () => {
    const call = batched<number, number>(
      async (items) => [...items],
      async (item) => {
        if (item < 0) throw new Error("negative");
        return item;
      },
      8,
    );
    await assert.rejects(call(-1), /negative/);
    assert.equal(await call(5), 5);
  });
});
