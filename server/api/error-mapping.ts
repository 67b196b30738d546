import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  AlreadyExistsError,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
} from "../errors.js";
import { OutageLog, type ErrorLogger } from "./outage-log.js";

// containerd's wire messages end with the class (errdefs wrapping), which is
// how `ctr` prints them: `image "x": not found`.
const WIRE: ReadonlyArray<[new (...args: never[]) => DomainError, Code, string]> = [
  [InvalidArgumentError, Code.InvalidArgument, "invalid argument"],
  [NotFoundError, Code.NotFound, "not found"],
  [AlreadyExistsError, Code.AlreadyExists, "already exists"],
  [FailedPreconditionError, Code.FailedPrecondition, "failed precondition"],
  [ResourceExhaustedError, Code.ResourceExhausted, "resource exhausted"],
  [UnavailableError, Code.Unavailable, "unavailable"],
];

// Messages quote what the client sent (a name, a namespace, a filter), which
// can be long. gRPC carries the message in a header, percent-encoded, and
// gRPC's C core refuses answers whose headers exceed 8 KiB: such a client
// would see ResourceExhausted instead of the error. So a long message keeps
// its beginning and its end (what failed, and why) and loses its middle.
// 512 UTF-16 code units stay under 5 KiB even with every one percent-encoded.
export const MAX_MESSAGE_LENGTH = 512;
const ELISION = " … ";
const KEPT_EACH_SIDE = Math.floor((MAX_MESSAGE_LENGTH - ELISION.length) / 2);

function bounded(message: string): string {
  if (message.length <= MAX_MESSAGE_LENGTH) return message;
  let head = message.slice(0, KEPT_EACH_SIDE);
  let tail = message.slice(-KEPT_EACH_SIDE);
  // Never half of a surrogate pair.
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
  if (/^[\udc00-\udfff]/.test(tail)) tail = tail.slice(1);
  return head + ELISION + tail;
}

/** The one translation from domain errors to Connect codes. */
export function toConnectError(error: unknown, logger: ErrorLogger, outages: OutageLog, procedure: string): ConnectError {
  if (error instanceof ConnectError) {
    const message = bounded(error.rawMessage);
    if (message === error.rawMessage) return error;
    const shortened = new ConnectError(message, error.code, error.metadata, undefined, error.cause);
    shortened.details.push(...error.details);
    return shortened;
  }
  // Not the caller's doing, and not a bug: the operator needs to know.
  if (error instanceof UnavailableError) outages.failed(error, procedure);
  for (const [errorClass, code, suffix] of WIRE) {
    if (error instanceof errorClass) {
      const message = error.message.endsWith(`: ${suffix}`) ? error.message : `${error.message}: ${suffix}`;
      return new ConnectError(bounded(message), code);
    }
  }
  logger.error({ err: error, procedure }, "unexpected error in RPC handler");
  return new ConnectError("internal error", Code.Internal);
}

/** RPC errors bypass Fastify's error handler, so they are mapped and logged here. */
export function errorMapping(logger: ErrorLogger): Interceptor {
  const outages = new OutageLog(logger);
  return (next) => async (request) => {
    try {
      return await next(request);
    } catch (error) {
      throw toConnectError(error, logger, outages, `${request.service.typeName}/${request.method.name}`);
    }
  };
}
