// Test support: gRPC (HTTP/2, h2c) over a unix domain socket, e.g. to talk
// to a real containerd.

import net from "node:net";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/**
 * A gRPC transport whose HTTP/2 session is opened on the given unix socket.
 * connect-node passes `nodeOptions` to `http2.connect(authority, options)`;
 * `createConnection` replaces the TCP dial. The authority ("localhost") is
 * only used for the :authority pseudo-header.
 */
export function grpcUnixTransport(socket: string): Transport {
  return createGrpcTransport({
    baseUrl: "http://localhost",
    nodeOptions: {
      createConnection: () => net.connect(socket),
    },
    // containerd does not need keep-alive pings; avoid timers keeping tests alive
    idleConnectionTimeoutMs: 1_000,
  });
}

/** Call options carrying containerd's namespace header. */
export function withNamespace(ns: string): { headers: Record<string, string> } {
  return { headers: { "containerd-namespace": ns } };
}
