import { existsSync, unlinkSync } from "node:fs";
import net from "node:net";
import type { FastifyInstance } from "fastify";
import { placeConnectionsThroughPrimary } from "../placement/worker.js";
import { createOnePortServer, type OwnHttp2, type RequestHandler } from "./one-port-server.js";

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once("connect", () => (probe.destroy(), resolve(true)));
    probe.once("error", () => resolve(false));
  });
}

/** A socket file left by a process that died is replaced; a live one is not. */
export async function claimSocketPath(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (await socketAnswers(path)) throw new Error(`unix socket ${path} is in use by another process`);
  unlinkSync(path);
}

/**
 * Serves the app's routes on a unix socket too, from listen until close:
 * HTTP/1.1 through Fastify, HTTP/2 (gRPC clients such as ctr) through http2.
 * claimed: the path was already claimed by a cluster primary, for its
 * workers, which then serve HTTP/2 connections where it places them.
 */
export function serveUnixSocket(
  app: FastifyInstance,
  handlers: { request: () => RequestHandler; http2: OwnHttp2 },
  path: string,
  claimed = false,
): void {
  const server = createOnePortServer((req, res) => handlers.request()(req, res), undefined, handlers.http2);
  let stopPlacing = () => {};
  app.addHook("onListen", async () => {
    if (!claimed) await claimSocketPath(path);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => (server.off("error", reject), resolve()));
    });
    if (claimed) stopPlacing = placeConnectionsThroughPrimary(server, app.log);
  });
  app.addHook("preClose", async () => {
    if (!server.listening) return;
    stopPlacing();
    server.closeIdleConnections();
    server.closeHttp2Sessions();
    await server.drain();
  });
}
