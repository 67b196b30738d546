import type { HandlerContext } from "@connectrpc/connect";
import { FailedPreconditionError } from "../errors.js";
import { DEFAULT_NAMESPACE, validateNamespace } from "../namespaces/validate.js";

const NAMESPACE_HEADER = "containerd-namespace";

// Taken whole: a value with a comma is invalid, as in containerd. (Node joins
// repeated headers with ", ", so a repeated header is invalid too.)
function headerValue(ctx: HandlerContext): string {
  return ctx.requestHeader.get(NAMESPACE_HEADER) ?? "";
}

/** containerd's APIs: the namespace header is required. */
export function requiredNamespace(ctx: HandlerContext): string {
  const namespace = headerValue(ctx);
  if (namespace === "") throw new FailedPreconditionError("namespace is required");
  return validateNamespace(namespace);
}

/** The seed API predates namespaces: no header means "default". */
export function seedNamespace(ctx: HandlerContext): string {
  const namespace = headerValue(ctx);
  return namespace === "" ? DEFAULT_NAMESPACE : validateNamespace(namespace);
}
