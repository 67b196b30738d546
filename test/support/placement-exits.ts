import cluster, { type Worker } from "node:cluster";
import { once } from "node:events";
import { pino } from "pino";
import { isPlacementMessage, type ToPrimary } from "../../server/placement/messages.js";
import { placeConnections } from "../../server/placement/primary.js";

/*
 * A cluster primary placing connections for two workers, the second of
 * which exits while the primary is still busy with the first one's exit.
 * The first one's exit makes the second the home, and the primary tells it
 * so through a channel whose far end has closed but has not been read as
 * closed yet: the write fails. Prints "outlived both workers" if the
 * primary is still running after that.
 */

type ToFixture = { exitAfterMs: number };

async function joined(worker: Worker): Promise<void> {
  while (true) {
    const [message] = (await once(worker, "message")) as [unknown];
    if (isPlacementMessage<ToPrimary>(message) && message.placement === "load") return;
  }
}

function tell(worker: Worker, message: ToFixture): Promise<void> {
  return new Promise((resolve, reject) => worker.send(message, undefined, {}, (error) => (error ? reject(error) : resolve())));
}

if (cluster.isPrimary) {
  // Registered before placement's own listener, so it runs first.
  cluster.once("exit", () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500));
  placeConnections(pino({ level: "silent" }));
  const first = cluster.fork();
  await joined(first);
  const second = cluster.fork();
  await joined(second);
  const exits = Promise.all([once(first, "exit"), once(second, "exit")]);
  await tell(second, { exitAfterMs: 200 });
  await tell(first, { exitAfterMs: 0 });
  await exits;
  await new Promise((resolve) => setTimeout(resolve, 100));
  console.log("outlived both workers");
} else {
  process.send!({ placement: "load", utilization: 0, connections: 0 } satisfies ToPrimary);
  process.on("message", (message: ToFixture) => {
    if (typeof message.exitAfterMs === "number") setTimeout(() => process.exit(0), message.exitAfterMs);
  });
}
