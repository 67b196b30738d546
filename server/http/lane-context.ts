import type { DescMethodUnary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type http2 from "node:http2";
import type { CallStream } from "./call-stream.js";
import { IncomingHeaders } from "./h2-headers.js";

const DEADLINE_EXCEEDED = () => new ConnectError("the operation timed out", Code.DeadlineExceeded);
const CLIENT_WENT_AWAY = new ConnectError("the client closed the stream", Code.Canceled);

/**
 * A HandlerContext whose parts are made when first used. Most calls read
 * only the request headers; an AbortSignal (an EventTarget, linked to the
 * deadline, the client and shutdown) costs more than the call itself, and is
 * made only for an implementation that asks for it.
 */
export class LaneContext implements HandlerContext {
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  private header?: Headers;
  private outHeader?: Headers;
  private outTrailer?: Headers;
  private contextValues?: ContextValues;
  private controller?: AbortController;
  private cleanup?: () => void;

  constructor(
    readonly method: DescMethodUnary,
    readonly url: string,
    private readonly raw: http2.IncomingHttpHeaders,
    private readonly deadline: number | undefined,
    private readonly stream: CallStream,
    private readonly shutdownSignal: AbortSignal,
  ) {}

  get service() {
    return this.method.parent;
  }
  readonly timeoutMs = () => (this.deadline === undefined ? undefined : this.deadline - Date.now());
  get requestHeader(): Headers {
    return (this.header ??= new IncomingHeaders(this.raw));
  }
  get responseHeader(): Headers {
    return (this.outHeader ??= new Headers());
  }
  get responseTrailer(): Headers {
    return (this.outTrailer ??= new Headers());
  }
  get values(): ContextValues {
    return (this.contextValues ??= createContextValues());
  }
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = (this.controller = new AbortController());
      const abort = (reason: unknown) => controller.signal.aborted || controller.abort(reason);
      const onShutdown = () => abort(this.shutdownSignal.reason);
      const onClose = () => abort(CLIENT_WENT_AWAY);
      const timer = this.deadline === undefined ? undefined : setTimeout(() => abort(DEADLINE_EXCEEDED()), this.timeoutMs());
      this.shutdownSignal.addEventListener("abort", onShutdown);
      this.stream.once("close", onClose);
      if (this.shutdownSignal.aborted) onShutdown();
      this.cleanup = () => {
        clearTimeout(timer);
        this.shutdownSignal.removeEventListener("abort", onShutdown);
        this.stream.off("close", onClose);
      };
    }
    return this.controller.signal;
  }

  /** The call is over: stop watching for its end. */
  finish(): void {
    this.cleanup?.();
  }

  /** What the implementation and interceptors added to the response, if anything. */
  responseMetadata(): { header?: Headers; trailer?: Headers } {
    return { header: this.outHeader, trailer: this.outTrailer };
  }
}
