import type net from "node:net";
import type { H2ConnectionState } from "../h2/connection.js";

/*
 * Messages between the cluster primary and its workers about where the unix
 * socket's HTTP/2 connections are served. A connection moves with its
 * socket's handle attached to a "handover" (worker to primary) and then an
 * "adopt" (primary to worker) message.
 */

export type ToPrimary =
  /** Sent every REPORT_INTERVAL_MS: how busy the worker's event loop was, and how many connections it serves. */
  | { placement: "load"; utilization: number; connections: number }
  | { placement: "handover"; state: H2ConnectionState };

export type ToWorker =
  /** keep: serve your connections; otherwise hand each over when it is quiet, new ones too. */
  | { placement: "keep"; keep: boolean }
  /** Hand this many of your connections over when they are quiet. */
  | { placement: "release"; count: number }
  | { placement: "adopt"; state: H2ConnectionState };

export const REPORT_INTERVAL_MS = 250;

export function isPlacementMessage<T extends ToPrimary | ToWorker>(message: unknown): message is T {
  return typeof message === "object" && message !== null && "placement" in message;
}

/** What process.send passes to another process: a socket's own handle, as node:cluster passes accepted ones. */
export interface NativeHandle {
  readStop(): number;
  close(): void;
}

/**
 * The socket's handle, no longer read from, so that no byte is read here
 * once it is on its way. Sent as a handle rather than as the socket: Node
 * would count a sent net.Socket against the server that accepted it and
 * make that server's close wait on the primary.
 */
export function detachHandle(socket: net.Socket): NativeHandle | null {
  const handle = (socket as unknown as { _handle: NativeHandle | null })._handle;
  handle?.readStop();
  return handle;
}
