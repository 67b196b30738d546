import { create, fromBinary, isMessage, type DescMessage } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { contentTypeProto, grpcStatusOk, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import http2 from "node:http2";
import { answerFrame, ENVELOPE_HEADER_BYTES } from "./answer-frames.js";
import type { CallStream } from "./call-stream.js";
import { nodeHeaders, sendTrailers } from "./h2-headers.js";
import { LaneContext } from "./lane-context.js";
import { compressGrpcOnlyWhenAsked } from "./grpc-compression.js";
import { serveThroughConnect } from "./grpc-stream-adapter.js";
import type { StreamHandler } from "./one-port-server.js";

export interface UnaryLaneOptions {
  interceptors: readonly Interceptor[];
  readMaxBytes: number;
  shutdownSignal: AbortSignal;
}

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;

// Binary gRPC only: "+json" and gRPC-Web take the usual path.
const BINARY_GRPC = /^application\/grpc(?:\+proto)?$/;
const GRPC_STATUS_OK = String(grpcStatusOk);

// What the interceptors see of a call: the parts that cost something to
// make (above all the AbortSignal) are made when first read, by accessors
// shared by every call and defined on each object, so that a copy made with
// spread still has them. Getters written in an object literal would be new
// functions for each call, and with them about a fifth of all a call
// allocates outlived young-generation collections, which took three times
// as long (docs/performance.md).
const CONTEXT = Symbol("lane context");
type WithContext = { [CONTEXT]: LaneContext };
const REQUEST_PARTS: PropertyDescriptorMap = {
  header: { enumerable: true, get: function (this: WithContext) { return this[CONTEXT].requestHeader; } },
  signal: { enumerable: true, get: function (this: WithContext) { return this[CONTEXT].signal; } },
  contextValues: { enumerable: true, get: function (this: WithContext) { return this[CONTEXT].values; } },
};
const RESPONSE_PARTS: PropertyDescriptorMap = {
  header: { enumerable: true, get: function (this: WithContext) { return this[CONTEXT].responseHeader; } },
  trailer: { enumerable: true, get: function (this: WithContext) { return this[CONTEXT].responseTrailer; } },
};

function normalize<T extends DescMessage>(schema: T, value: unknown) {
  return isMessage(value, schema) ? value : create(schema, value as never);
}

/** The one uncompressed message of a well-formed unary request, or null. */
function singleMessage(body: Buffer, readMaxBytes: number): Buffer | null {
  if (body.length < ENVELOPE_HEADER_BYTES || body[0] !== 0) return null;
  const length = body.readUInt32BE(1);
  if (length !== body.length - ENVELOPE_HEADER_BYTES || length > readMaxBytes) return null;
  return body.subarray(ENVELOPE_HEADER_BYTES);
}

function applyInterceptors(
  next: (request: UnaryRequest) => Promise<UnaryResponse>,
  interceptors: readonly Interceptor[],
): (request: UnaryRequest) => Promise<UnaryResponse> {
  return interceptors.reduceRight((call, interceptor) => interceptor(call as never) as typeof call, next);
}

/**
 * Unary gRPC calls over HTTP/2, answered from the raw stream: the method's
 * implementation runs behind the same interceptors as on every other path,
 * without Node's request/response compatibility objects, Fastify's routing
 * and connect's adapters, which together cost more CPU than the call.
 *
 * Only the plain case is taken here: a binary, uncompressed request carrying
 * exactly one well-formed message. Anything else (a compressed or malformed
 * request, one too large, an invalid timeout, gRPC-Web, Connect, streaming
 * methods) goes to connect's own handler, so every protocol error is still
 * connect's. Responses are as connect writes them (tested side by side).
 */
export function unaryGrpcLane(
  specs: readonly MethodImplSpec[],
  connectHandlers: readonly UniversalHandler[],
  options: UnaryLaneOptions,
): StreamHandler {
  const lanes = new Map<string, { spec: UnarySpec; connect: UniversalHandler }>();
  for (const connect of connectHandlers) {
    const spec = specs.find((s): s is UnarySpec => s.kind === "unary" && s.method === connect.method);
    if (spec !== undefined) lanes.set(connect.requestPath, { spec, connect });
  }

  const invoke = async (spec: UnarySpec, context: LaneContext, message: unknown): Promise<UnaryResponse> => {
    const call = applyInterceptors(async (request) => {
      const output = await spec.impl(request.message as never, context);
      const response = {
        stream: false,
        service: spec.method.parent,
        method: spec.method,
        message: normalize(spec.method.output, output),
        [CONTEXT]: context,
      };
      return Object.defineProperties(response, RESPONSE_PARTS) as unknown as UnaryResponse;
    }, options.interceptors);
    const request = {
      stream: false,
      service: spec.method.parent,
      method: spec.method,
      requestMethod: "POST",
      url: context.url,
      message,
      [CONTEXT]: context,
    };
    return call(Object.defineProperties(request, REQUEST_PARTS) as unknown as UnaryRequest);
  };

  const answer = async (
    stream: CallStream,
    spec: UnarySpec,
    context: LaneContext,
    message: unknown,
  ): Promise<void> => {
    let body: Buffer | undefined;
    let status: Headers | undefined;
    try {
      const response = await invoke(spec, context, message);
      // Nobody would read it (a List's answer is megabytes of work).
      if (stream.destroyed || stream.closed) return;
      body = answerFrame(spec.method.output, response.message as never);
    } catch (error) {
      const failure = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal);
      status = setTrailerStatus(new Headers(), failure);
    } finally {
      context.finish();
    }
    if (stream.destroyed || stream.closed) return;
    const added = context.responseMetadata();
    const trailers = nodeHeaders(added.trailer);
    if (status === undefined) trailers["grpc-status"] = GRPC_STATUS_OK;
    else nodeHeaders(status, trailers);
    try {
      stream.respond(nodeHeaders(added.header, { ":status": 200, "content-type": contentTypeProto }), { waitForTrailers: true });
      stream.once("wantTrailers", () => sendTrailers(stream, trailers));
      stream.end(body);
    } catch {
      // The client went away meanwhile.
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  };

  return (stream, headers) => {
    const path = headers[":path"] ?? "";
    const lane = lanes.get(path);
    if (lane === undefined || headers[":method"] !== "POST" || !BINARY_GRPC.test(headers["content-type"] ?? "")) {
      return false;
    }
    const encoding = headers["grpc-encoding"];
    const timeoutHeader = headers["grpc-timeout"];
    const timeout = parseTimeout(typeof timeoutHeader === "string" ? timeoutHeader : null, Number.MAX_SAFE_INTEGER);
    if ((encoding !== undefined && encoding !== "identity") || timeout.error !== undefined) return false;

    compressGrpcOnlyWhenAsked(headers);
    // Without an "error" listener, a stream's write error would crash the process.
    stream.on("error", () => {});
    const chunks: Buffer[] = [];
    let received = 0;
    let declared: number | undefined;
    // Handed over as soon as the request cannot be the plain case, so that
    // no more of it is held here than one allowed message.
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (declared === undefined && received >= ENVELOPE_HEADER_BYTES) {
        const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
        declared = head.readUInt32BE(1);
        if (head[0] !== 0 || declared > options.readMaxBytes) return handOver();
      }
      if (declared !== undefined && received > ENVELOPE_HEADER_BYTES + declared) handOver();
    };
    const handOver = () => {
      stream.pause().off("data", onData).off("end", onEnd);
      serveThroughConnect(lane.connect, stream, headers, chunks);
    };
    const onEnd = () => {
      const message = singleMessage(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), options.readMaxBytes);
      let input: unknown;
      try {
        input = message === null ? null : fromBinary(lane.spec.method.input, message);
      } catch {
        input = null;
      }
      if (input === null) return handOver();
      const deadline = timeout.timeoutMs === undefined ? undefined : Date.now() + timeout.timeoutMs;
      const url = `http://${headers[":authority"] ?? "localhost"}${path}`;
      const context = new LaneContext(lane.spec.method, url, headers, deadline, stream, options.shutdownSignal);
      answer(stream, lane.spec, context, input).catch(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    };
    stream.on("data", onData).once("end", onEnd);
    return true;
  };
}
