import {
  Code,
  ConnectError,
  cors as connectCors,
  createServiceImplSpec,
  type ConnectRouter,
  type MethodImplSpec,
} from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastifyCors from "@fastify/cors";
import { setMaxListeners } from "node:events";
import type { Server } from "node:http";
import fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import { errorMapping } from "./api/error-mapping.js";
import { routes } from "./api/routes.js";
import { DEFAULT_IMAGE_CACHE_MB } from "./config.js";
import { READ_ONLY, type Database } from "./db/database.js";
import { ImageCache } from "./images/cache.js";
import { cachedImageStore, followImageChanges } from "./images/cached-store.js";
import { sqlImageStore } from "./images/sql-store.js";
import type { ImageStore } from "./images/store.js";
import { ImageService } from "./images/service.js";
import { LeaseService } from "./leases/service.js";
import { sqlLeaseStore } from "./leases/sql-store.js";
import { sqlNamespaceStore } from "./namespaces/sql-store.js";
import { compressGrpcOnlyWhenAsked } from "./http/grpc-compression.js";
import { unaryGrpcLane } from "./http/grpc-unary-lane.js";
import { createOnePortServer, type RequestHandler, type StreamHandler } from "./http/one-port-server.js";
import { ownHttp2 } from "./http/own-http2.js";
import { serveUnixSocket } from "./http/unix-socket.js";
import { answerUnknownRoute } from "./http/unknown-rpc.js";

/** containerd's clients and server cap messages at 16 MiB. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface AppOptions {
  database: Database;
  logger?: FastifyServerOptions["logger"];
  /** Browser origins allowed to call the API (CORS); none by default. */
  corsOrigins?: readonly string[];
  /** Also serve everything on this unix socket (how ctr connects). */
  socketPath?: string;
  /** The socket path was claimed by a cluster primary; workers share it. */
  socketPathClaimed?: boolean;
  /** Memory for recently read images (see images/cache.ts); 0 reads every Get from the database. */
  imageCacheBytes?: number;
  /** Serve unary gRPC calls from the raw HTTP/2 stream (default); false leaves every call to connect's adapter. */
  unaryGrpcLane?: boolean;
  /** In-flight calls get this long to finish on close before they are aborted. */
  shutdownTimeoutMs?: number;
}

/**
 * Aborts the calls still running timeoutMs after close begins. Every call in
 * flight listens on this one signal, so it must allow any number of
 * listeners (connect-fastify's shutdownTimeoutMs makes one that warns past ten).
 */
function shutdownSignal(app: FastifyInstance, timeoutMs: number, reason: unknown): AbortSignal {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  app.addHook("preClose", (done) => {
    setTimeout(() => controller.abort(reason), timeoutMs).unref();
    done();
  });
  return controller.signal;
}

async function imageStore(app: FastifyInstance, database: Database, cacheBytes: number): Promise<ImageStore> {
  const store = sqlImageStore(database);
  if (cacheBytes === 0) return store;
  const cache = new ImageCache(cacheBytes);
  const unfollow = await followImageChanges(database, cache);
  app.addHook("onClose", unfollow);
  return cachedImageStore(store, cache);
}

/** The router, noting in `specs` the implementation of each method registered through it. */
function recordingImplementations(router: ConnectRouter, specs: MethodImplSpec[]): ConnectRouter {
  return {
    handlers: router.handlers,
    service(service, implementation, options) {
      specs.push(...Object.values(createServiceImplSpec(service, implementation).methods));
      return router.service(service, implementation, options);
    },
    rpc: () => {
      throw new Error("routes register whole services");
    },
  };
}

export async function build(options: AppOptions): Promise<FastifyInstance> {
  let handler: RequestHandler | undefined;
  // Bound once the routes exist; no stream arrives before listen.
  let unaryGrpc: StreamHandler = () => false;
  const streamHandler: StreamHandler = (stream, headers) => unaryGrpc(stream, headers);
  const app = fastify({
    logger: options.logger ?? false,
    // One log line per RPC would cost more than the RPC; errors are logged by errorMapping.
    logController: new LogController({ disableRequestLogging: true }),
    // Typed as Node's http.Server for Fastify; it serves HTTP/1.1 and h2c alike.
    serverFactory: (h) => createOnePortServer((handler = h as RequestHandler), streamHandler) as unknown as Server,
  });
  const services = {
    images: new ImageService(await imageStore(app, options.database, options.imageCacheBytes ?? DEFAULT_IMAGE_CACHE_MB * 1024 * 1024)),
    leases: new LeaseService(sqlLeaseStore(options.database)),
    namespaces: sqlNamespaceStore(options.database),
  };

  if (options.corsOrigins?.length) {
    await app.register(fastifyCors, {
      origin: [...options.corsOrigins],
      methods: [...connectCors.allowedMethods],
      allowedHeaders: [...connectCors.allowedHeaders, "Authorization", "containerd-namespace"],
      exposedHeaders: [...connectCors.exposedHeaders],
    });
  }
  app.addHook("onRequest", async (request) => compressGrpcOnlyWhenAsked(request.headers));
  const connectOptions = {
    interceptors: [errorMapping(app.log)],
    readMaxBytes: MAX_MESSAGE_BYTES,
    // Calls still running when the grace period ends: Unavailable tells clients to retry elsewhere.
    shutdownSignal: shutdownSignal(app, options.shutdownTimeoutMs ?? 4_000, new ConnectError("server is shutting down", Code.Unavailable)),
  };
  // The lane serves with the plugin's own handlers, for what it hands over to connect.
  const specs: MethodImplSpec[] = [];
  let handlers: readonly UniversalHandler[] = [];
  await app.register(fastifyConnectPlugin, {
    ...connectOptions,
    routes: (router) => {
      routes(services)(recordingImplementations(router, specs));
      handlers = router.handlers;
    },
  });
  if (options.unaryGrpcLane !== false) unaryGrpc = unaryGrpcLane(specs, handlers, connectOptions);
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    try {
      await options.database.query("SELECT 1", [], READ_ONLY);
      return { status: "ok" };
    } catch {
      return reply.code(503).send({ status: "database unreachable" });
    }
  });
  app.setNotFoundHandler(answerUnknownRoute);
  if (options.socketPath !== undefined) {
    const rpc = new Map(handlers.map((h) => [h.requestPath, h]));
    const http2 = ownHttp2({ lane: streamHandler, rpc, app, maxBodyBytes: MAX_MESSAGE_BYTES });
    serveUnixSocket(app, { request: () => handler!, http2 }, options.socketPath, options.socketPathClaimed);
  }
  return app;
}
