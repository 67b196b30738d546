import type { FastifyBaseLogger } from "fastify";
import net from "node:net";
import { performance } from "node:perf_hooks";
import type { H2Connection } from "../h2/connection.js";
import type { OnePortServer } from "../http/one-port-server.js";
import { detachHandle, isPlacementMessage, REPORT_INTERVAL_MS, type ToPrimary, type ToWorker } from "./messages.js";

/** A connection asked to move by a "release" that is not quiet within this time stays. */
const RELEASE_TIMEOUT_MS = 1_000;

/**
 * A worker's side of placing the unix socket's HTTP/2 connections (see
 * placement/primary.ts): it reports how busy its event loop is, hands
 * connections over when the primary asks, and serves the ones handed to it.
 * Returns what stops it.
 */
export function placeConnectionsThroughPrimary(server: OnePortServer, log: FastifyBaseLogger): () => void {
  let keep = true;
  /** Connections asked to move, with the timer that gives up on a release. */
  const leaving = new Map<H2Connection, NodeJS.Timeout | null>();

  const forget = (connection: H2Connection) => {
    const timer = leaving.get(connection);
    if (timer) clearTimeout(timer);
    leaving.delete(connection);
  };
  const stay = (connection: H2Connection) => {
    forget(connection);
    connection.cancelHandover();
  };

  /** False when the connection is already leaving, or gone. */
  const handOver = (connection: H2Connection, timeoutMs?: number): boolean => {
    if (leaving.has(connection) || !connection.open) return false;
    leaving.set(connection, timeoutMs === undefined ? null : setTimeout(() => stay(connection), timeoutMs));
    connection.handOverWhenQuiet((state) => {
      forget(connection);
      const socket = connection.socket;
      const handle = detachHandle(socket);
      if (handle === null) return void socket.destroy();
      log.debug("HTTP/2 connection on the unix socket handed over");
      // The primary has its own copy of the socket once the message is written; this one can go.
      process.send!({ placement: "handover", state } satisfies ToPrimary, handle as never, {}, () => socket.destroy());
    });
    return true;
  };

  const onMessage = (message: unknown, handle: unknown) => {
    if (!isPlacementMessage<ToWorker>(message)) return;
    switch (message.placement) {
      case "keep":
        keep = message.keep;
        for (const connection of server.ownHttp2Connections) {
          if (keep) stay(connection);
          else handOver(connection);
        }
        return;
      case "release": {
        let count = message.count;
        for (const connection of server.ownHttp2Connections) {
          if (count <= 0) break;
          if (handOver(connection, RELEASE_TIMEOUT_MS)) count--;
        }
        return;
      }
      case "adopt":
        server.adoptHttp2(new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts), message.state);
        log.debug("HTTP/2 connection on the unix socket adopted");
        return;
    }
  };
  const onConnection = (connection: H2Connection) => void (keep || handOver(connection));

  let previous = performance.eventLoopUtilization();
  const report = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, previous);
    previous = now;
    for (const connection of leaving.keys()) if (!connection.open) forget(connection);
    const connections = server.ownHttp2Connections.size - leaving.size;
    // A failed write (the primary gone) goes to the callback and is dropped: node:cluster ends the worker then.
    if (process.connected) process.send!({ placement: "load", utilization, connections } satisfies ToPrimary, undefined, {}, () => {});
  }, REPORT_INTERVAL_MS).unref();

  process.on("message", onMessage);
  server.on("ownHttp2Connection", onConnection);
  return () => {
    clearInterval(report);
    process.off("message", onMessage);
    server.off("ownHttp2Connection", onConnection);
    for (const connection of [...leaving.keys()]) stay(connection);
  };
}
