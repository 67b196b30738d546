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

/** Calls that multiply by 10, each run held until the test opens it. */
function gatedCall(maxBatch: number, lingerMs: number) {
  const { runs, gate, open } = recorder();
  const call = batched<number, number>({
    runBatch: async (items) => (runs.push(`batch ${items}`), await gate(), items.map((i) => i * 10)),
    runOne: async (item) => (runs.push(`one ${item}`), await gate(), item * 10),
    maxBatch,
    lingerMs,
  });
  return { call, runs, open };
}

// Longer than the test's own time limit: a test that waited this long would fail.
const LONGER_THAN_THE_TEST_MS = 60_000;
const TEST_TIMEOUT = { timeout: 10_000 };

describe("batched calls", () => {
  it("runs a lone caller's calls at once, alone, however long batches may wait", TEST_TIMEOUT, async () => {
    const runs: string[] = [];
    const call = batched<number, number>({
      runBatch: async (items) => (runs.push(`batch ${items}`), items.map((i) => i * 10)),
      runOne: async (item) => (runs.push(`one ${item}`), item * 10),
      maxBatch: 8,
      lingerMs: LONGER_THAN_THE_TEST_MS,
    });
    for (const i of [1, 2, 3]) assert.equal(await call(i), i * 10);
    assert.deepEqual(runs, ["one 1", "one 2", "one 3"]);
  });

  it("groups the calls made while a run is in flight, at most maxBatch at a time, answering each its own", async () => {
    const { call, runs, open } = gatedCall(3, 1);
    const results = [1, 2, 3, 4, 5, 6].map((i) => call(i));
    await open(); // one 1
    await open(); // batch 2,3,4
    await open(); // batch 5,6, after waiting for the three just answered, who did not call again
    assert.deepEqual(await Promise.all(results), [10, 20, 30, 40, 50, 60]);
    assert.deepEqual(runs, ["one 1", "batch 2,3,4", "batch 5,6"]);
  });

  it("waits for the callers it just answered, so that concurrent callers share every batch", TEST_TIMEOUT, async () => {
    const { call, runs, open } = gatedCall(8, 20);
    // Three callers, each calling again as soon as it is answered.
    const caller = async (first: number) => [await call(first), await call(first + 10), await call(first + 20)];
    const results = [1, 2, 3].map(caller);
    await open(); // one 1; 2 and 3 wait, and the next batch waits for 11
    await open(); // batch 2,3,11; then the next waits for 12, 13 and 21
    await open(); // batch 12,13,21
    await open(); // batch 22,23, once no third caller came back
    assert.deepEqual(await Promise.all(results), [
      [10, 110, 210],
      [20, 120, 220],
      [30, 130, 230],
    ]);
    // Without waiting, 11 would have missed 2 and 3 (one 1, batch 2,3, one 11, ...).
    assert.deepEqual(runs, ["one 1", "batch 2,3,11", "batch 12,13,21", "batch 22,23"]);
  });

  it("waits at most lingerMs for a caller who does not come back", TEST_TIMEOUT, async () => {
    const { call, runs, open } = gatedCall(8, 20);
    const first = [1, 2, 3].map((i) => call(i));
    await open(); // one 1
    await open(); // batch 2,3
    await Promise.all(first);
    // Three were answered; only one calls again, and goes alone once the wait is over.
    const again = call(4);
    await open();
    assert.equal(await again, 40);
    assert.deepEqual(runs, ["one 1", "batch 2,3", "one 4"]);
  });

  it("runs a failed batch's calls one by one, so only the bad one fails", async () => {
    const { runs, gate, open } = recorder();
    const call = batched<number, number>({
      runBatch: async (items) => {
        runs.push(`batch ${items}`);
        throw new Error("batch failed");
      },
      runOne: async (item) => {
        runs.push(`one ${item}`);
        if (item === 1) await gate();
        if (item === 3) throw new Error("3 is bad");
        return item * 10;
      },
      maxBatch: 8,
      lingerMs: 1,
    });
    const first = call(1);
    const rest = [2, 3, 4].map((i) => call(i).catch((e: Error) => e.message));
    await open();
    assert.equal(await first, 10);
    assert.deepEqual(await Promise.all(rest), [20, "3 is bad", 40]);
    assert.deepEqual(runs, ["one 1", "batch 2,3,4", "one 2", "one 3", "one 4"]);
  });

  it("keeps serving after a failure", async () => {
    const call = batched<number, number>({
      runBatch: async (items) => [...items],
      runOne: async (item) => {
        if (item < 0) throw new Error("negative");
        return item;
      },
      maxBatch: 8,
      lingerMs: 1,
    });
    await assert.rejects(call(-1), /negative/);
    assert.equal(await call(5), 5);
  });
});
