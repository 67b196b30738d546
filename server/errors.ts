// Domain error classes. Each is raised where the condition is detected and
// translated to a wire code exactly once, in server/api/error-mapping.ts.

export class DomainError extends Error {
  override name = this.constructor.name;
}

/** The caller sent something malformed; retrying the same request cannot succeed. */
export class InvalidArgumentError extends DomainError {}

/** The named object does not exist. */
export class NotFoundError extends DomainError {}

/** The object being created exists already. */
export class AlreadyExistsError extends DomainError {}

/** The system is not in a state the call requires (e.g. no namespace given). */
export class FailedPreconditionError extends DomainError {}

/** A size or count limit was exceeded. */
export class ResourceExhaustedError extends DomainError {}

/** The database cannot be reached, or lost the session mid-call: retrying later may succeed. */
export class UnavailableError extends DomainError {}
