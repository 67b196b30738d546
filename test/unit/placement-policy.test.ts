import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Placement, type Command } from "../../server/placement/policy.js";

const thresholds = { spreadAbove: 0.9, spreadAfter: 2, gatherBelow: 0.5, gatherAfter: 3 };
const load = (utilization: number, connections = 4) => ({ utilization, connections });
const keeps = (commands: Command[]) =>
  Object.fromEntries(commands.flatMap(({ worker, message }) => (message.placement === "keep" ? [[worker, message.keep]] : [])));

/** A placement with workers 1 and 2 reporting, idle. */
function twoWorkers(): Placement {
  const placement = new Placement(thresholds);
  placement.report(2, load(0));
  placement.report(1, load(0));
  return placement;
}

describe("placement of the unix socket's HTTP/2 connections", () => {
  it("gathers them on the lowest worker id: it keeps its connections, the others hand theirs over to it", () => {
    const placement = new Placement(thresholds);
    assert.deepEqual(keeps(placement.report(2, load(0))), { 2: true });
    assert.deepEqual(keeps(placement.report(1, load(0))), { 1: true, 2: false });
    assert.equal(placement.home, 1);
    assert.equal(placement.destination(2), 1);
  });

  it("spreads when the home worker stays busy: half its connections go to the least busy worker, and all keep theirs", () => {
    const placement = twoWorkers();
    placement.report(3, load(0.3));
    placement.report(2, load(0.2));
    assert.deepEqual(placement.report(1, load(0.95, 6)), [], "one busy report is not enough");
    const commands = placement.report(1, load(0.97, 6));
    assert.equal(placement.mode, "spread");
    assert.deepEqual(keeps(commands), { 1: true, 2: true, 3: true });
    assert.deepEqual(
      commands.find((c) => c.message.placement === "release"),
      { worker: 1, message: { placement: "release", count: 3 } },
    );
    assert.equal(placement.destination(1), 2);
  });

  it("does not spread a busy home worker's single connection, or when it is the only worker", () => {
    const placement = twoWorkers();
    for (let i = 0; i < 5; i++) assert.deepEqual(placement.report(1, load(1, 1)), []);
    const alone = new Placement(thresholds);
    for (let i = 0; i < 5; i++) alone.report(1, load(1, 8));
    assert.equal(alone.mode, "gather");
  });

  it("a busy report between quiet ones starts the count again", () => {
    const placement = twoWorkers();
    for (const utilization of [0.95, 0.5, 0.95, 0.5, 0.95]) placement.report(1, load(utilization));
    assert.equal(placement.mode, "gather");
  });

  it("while spread, a worker that stays busy with two or more connections more than the least busy one releases half the difference", () => {
    const placement = twoWorkers();
    placement.report(1, load(1, 6));
    placement.report(1, load(1, 6));
    assert.equal(placement.mode, "spread");
    placement.report(2, load(0.4, 1));
    // The release found no quiet moment: worker 1 still serves all six.
    assert.deepEqual(placement.report(1, load(1, 6)), [], "one busy report is not enough");
    assert.deepEqual(placement.report(1, load(1, 6)), [{ worker: 1, message: { placement: "release", count: 2 } }]);
    assert.deepEqual(placement.report(1, load(1, 6)), [], "the count starts again after a release");
    assert.deepEqual(placement.report(1, load(1, 6)), [{ worker: 1, message: { placement: "release", count: 2 } }]);
    placement.report(2, load(0.95, 3));
    assert.deepEqual(placement.report(2, load(0.95, 3)), [], "worker 2 holds fewer than worker 1");
    placement.report(1, load(1, 4));
    assert.deepEqual(placement.report(1, load(1, 4)), [], "one connection more is as even as it gets");
  });

  it("gathers again once all workers together have been quiet for long enough", () => {
    const placement = twoWorkers();
    placement.report(1, load(1));
    placement.report(1, load(1));
    assert.equal(placement.mode, "spread");
    placement.report(2, load(0.3));
    placement.report(1, load(0.3)); // 0.6 together: not quiet
    for (let i = 0; i < 2; i++) placement.report(1, load(0.1));
    assert.equal(placement.mode, "spread");
    placement.report(2, load(0.1));
    assert.deepEqual(keeps(placement.report(1, load(0.1))), { 1: true, 2: false });
    assert.equal(placement.mode, "gather");
  });

  it("moves home when the home worker is gone", () => {
    const placement = twoWorkers();
    assert.deepEqual(keeps(placement.leave(1)), { 2: true });
    assert.equal(placement.home, 2);
    assert.deepEqual(placement.leave(1), []);
    assert.deepEqual(keeps(placement.report(3, load(0))), { 2: true, 3: false });
  });
});
