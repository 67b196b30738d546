import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { OutageLog } from "../../server/api/outage-log.js";
import { UnavailableError } from "../../server/errors.js";

describe("outage log", () => {
  it("logs the first failure in full, then one line per period while failures go on, then nothing", async () => {
    const logged: Array<{ details: Record<string, unknown>; message: string }> = [];
    const log = new OutageLog({ error: (details, message) => void logged.push({ details: { ...details }, message }) }, 50);
    const first = new UnavailableError("cannot connect to the database");
    const last = new UnavailableError("database connection lost");

    log.failed(first, "/Images/Get");
    for (let i = 0; i < 98; i++) log.failed(first, "/Images/Get");
    log.failed(last, "/Images/Create");
    assert.deepEqual(logged, [{ details: { err: first, procedure: "/Images/Get" }, message: "database unavailable" }]);

    // Timers fire in the order they fall due, so the period has ended by now.
    await sleep(80);
    assert.deepEqual(logged[1], {
      details: { err: last, failedCalls: 99 },
      message: "database still unavailable: 99 more calls failed in the last 0.05 s",
    });

    // A period with no failure ends the outage's reports.
    await sleep(120);
    assert.equal(logged.length, 2);

    // The next failure starts a new outage, logged in full again.
    log.failed(last, "/Images/List");
    assert.equal(logged.length, 3);
    assert.deepEqual(logged[2], { details: { err: last, procedure: "/Images/List" }, message: "database unavailable" });
  });
});
