import type { HandlerContext } from "@connectrpc/connect";
import { FailedPreconditionError } from "../errors.js";
import { DEFAULT_NAMESPACE, validateNamespace } from "../namespaces/validate.js";

const NAMESPACE_HEADER = "containerd-namespace";

function headerValue(ctx: HandlerContext): string {
  // Repeated headers arrive joined by ", "; containerd takes the first value.
  return (ctx.requestHeader.get(NAMESPACE_HEADER) ?? "").split(",")[0]!.trim();
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
