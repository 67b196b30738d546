import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import { isPlacementMessage, type NativeHandle, type ToPrimary, type ToWorker } from "./messages.js";
import { Placement, type Command } from "./policy.js";

/**
 * A worker that has just exited can still look connected until the primary
 * reads its end of the channel as closed; a write to it then fails. The
 * failure goes to the callback, where it is dropped (the worker's "exit"
 * replaces it), rather than to an 'error' event that would end the primary.
 * A handle sent along is this process's copy, closed either way.
 */
function sendToWorker(worker: Worker | undefined, message: ToWorker, handle?: NativeHandle): void {
  if (!worker?.isConnected()) return handle?.close();
  worker.send(message, handle as never, {}, () => handle?.close());
}

/**
 * The primary's side of placing the unix socket's HTTP/2 connections: it
 * follows the workers' reports, tells them to keep or hand over their
 * connections, and passes each handed-over socket on to where the policy
 * says. A moved connection goes on with its HTTP/2 state, so the client
 * sees nothing (no GOAWAY, no call refused).
 */
export function placeConnections(log: Logger): void {
  const placement = new Placement();
  let mode = placement.mode;
  const sendAll = (commands: Command[]) => {
    if (placement.mode !== mode) {
      mode = placement.mode;
      log.debug(mode === "gather" ? `unix socket connections gather on worker ${placement.home}` : "unix socket connections spread");
    }
    for (const { worker, message } of commands) {
      if (message.placement === "release") log.debug(`worker ${worker} asked to hand over ${message.count} unix socket connection(s)`);
      sendToWorker(cluster.workers?.[worker], message);
    }
  };

  const onMessage = (worker: Worker, message: unknown, handle: unknown) => {
    if (!isPlacementMessage<ToPrimary>(message)) return;
    if (message.placement === "load") return sendAll(placement.report(worker.id, message));
    const to = placement.destination(worker.id);
    sendToWorker(to === undefined ? undefined : cluster.workers?.[to], { placement: "adopt", state: message.state }, handle as NativeHandle);
  };

  cluster.on("message", onMessage);
  cluster.on("exit", (worker) => sendAll(placement.leave(worker.id)));
}
