import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import { isPlacementMessage, type NativeHandle, type ToPrimary } from "./messages.js";
import { Placement, type Command } from "./policy.js";

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
      const target = cluster.workers?.[worker];
      if (target?.isConnected()) target.send(message);
    }
  };

  const onMessage = (worker: Worker, message: unknown, handle: unknown) => {
    if (!isPlacementMessage<ToPrimary>(message)) return;
    if (message.placement === "load") return sendAll(placement.report(worker.id, message));
    const socket = handle as NativeHandle;
    const to = placement.destination(worker.id);
    const target = to === undefined ? undefined : cluster.workers?.[to];
    if (!target?.isConnected()) return socket.close();
    // The worker has its own copy of the socket once the message is written.
    target.send({ placement: "adopt", state: message.state }, socket as never, {}, () => socket.close());
  };

  cluster.on("message", onMessage);
  cluster.on("exit", (worker) => sendAll(placement.leave(worker.id)));
}
