import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderMachineLoad, renderTable, summarize } from "../../bench/report.js";
import { OPERATIONS, type Cell } from "../../bench/scenarios.js";

function cell(op: Cell["op"], target: Cell["target"], run: number, rate: number, load = { generatorCpu: 0.5, otherCpu: 0, stolenCpu: 0 }): Cell {
  const result = { rate, errors: 0, serverCpu: null, ...load, latencyMs: { p50: 1, p90: 1, p99: 2, mean: 1 } };
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

  it("says how much CPU the generator, other processes and the hypervisor took, at most", () => {
    const [row] = summarize(
      [
        cell("get", "ours", 0, 1_000, { generatorCpu: 0.6, otherCpu: 0.05, stolenCpu: 0.02 }),
        cell("get", "containerd", 0, 1_000, { generatorCpu: 0.7, otherCpu: 0.01, stolenCpu: 0.31 }),
        cell("get", "ours", 1, 1_000, { generatorCpu: 0.8, otherCpu: 0.12, stolenCpu: 0 }),
      ],
      get,
      [4],
    );
    assert.equal(
      renderMachineLoad([row!]),
      "generator CPU per cell: median 0.75 cores, max 0.80; other processes on the machine: up to 0.12 cores; " +
        "taken by the hypervisor (steal): up to 0.31 cores",
    );
  });
});
