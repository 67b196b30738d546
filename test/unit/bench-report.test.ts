import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderTable, summarize } from "../../bench/report.js";
import { OPERATIONS, type Cell } from "../../bench/scenarios.js";

function cell(op: Cell["op"], target: Cell["target"], run: number, rate: number): Cell {
  const result = { rate, errors: 0, serverCpu: null, generatorCpu: 0.5, otherCpu: 0, latencyMs: { p50: 1, p90: 1, p99: 2, mean: 1 } };
  return { op, concurrency: 4, target, run, result: result as unknown as Cell["result"], problems: [], invalid: false };
}

describe("bench report", () => {
  const get = OPERATIONS.filter((o) => o.key === "get" || o.key === "list");
  // The machine was slow in run 2: our median comes from run 0, containerd's
  // from run 1, and their ratio hides that ours was ahead in two runs of three.
  const cells = [
    cell("get", "ours", 0, 1_000), cell("get", "containerd", 0, 1_100),
    cell("get", "containerd", 1, 1_000), cell("get", "ours", 1, 1_300),
    cell("get", "ours", 2, 600), cell("get", "containerd", 2, 400),
    cell("list", "ours", 0, 10), cell("list", "containerd", 0, 20),
    cell("list", "ours", 1, 10),
  ];
  const [getRow, listRow] = summarize(cells, get, [4]);

  it("pairs each run's cells for the same-run ratios", () => {
    assert.deepEqual(getRow!.sameRunRatios.map((r) => r.toFixed(3)), ["0.909", "1.300", "1.500"]);
    // Time per call for List: containerd's 50 ms against our 100 ms; run 1 has no containerd cell.
    assert.deepEqual(listRow!.sameRunRatios, [2]);
  });

  it("prints their median and range next to the ratio of the medians", () => {
    const line = renderTable([getRow!]).split("\n")[2]!;
    assert.match(line, /1,000\/s\s+1,000\/s\s+1\.00\s+1\.30 \(0\.91-1\.50\)/);
  });
});
