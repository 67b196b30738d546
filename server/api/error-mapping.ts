import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  AlreadyExistsError,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
} from "../errors.js";

export interface ErrorLogger {
  error(details: object, message: string): void;
}

// containerd's wire messages end with the class (errdefs wrapping), which is
// how `ctr` prints them: `image "x": not found`.
const WIRE: ReadonlyArray<[new (...args: never[]) => DomainError, Code, string]> = [
  [InvalidArgumentError, Code.InvalidArgument, "invalid argument"],
  [NotFoundError, Code.NotFound, "not found"],
  [AlreadyExistsError, Code.AlreadyExists, "already exists"],
  [FailedPreconditionError, Code.FailedPrecondition, "failed precondition"],
  [ResourceExhaustedError, Code.ResourceExhausted, "resource exhausted"],
];

/** The one translation from domain errors to Connect codes. */
export function toConnectError(error: unknown, logger: ErrorLogger, procedure: string): ConnectError {
  if (error instanceof ConnectError) return error;
  for (const [errorClass, code, suffix] of WIRE) {
    if (error instanceof errorClass) {
      const message = error.message.endsWith(`: ${suffix}`) ? error.message : `${error.message}: ${suffix}`;
      return new ConnectError(message, code);
    }
  }
  logger.error({ err: error, procedure }, "unexpected error in RPC handler");
  return new ConnectError("internal error", Code.Internal);
}

/** RPC errors bypass Fastify's error handler, so they are mapped and logged here. */
export function errorMapping(logger: ErrorLogger): Interceptor {
  return (next) => async (request) => {
    try {
      return await next(request);
    } catch (error) {
      throw toConnectError(error, logger, `${request.service.typeName}/${request.method.name}`);
    }
  };
}
