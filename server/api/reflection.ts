import { toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * gRPC server reflection (grpc/grpc-proto grpc/reflection/v1 and v1alpha),
 * answered from the descriptors protobuf-es embeds in the generated code.
 * Both versions share one implementation: their messages differ only in the
 * package name.
 */

/** Both versions' services; they reflect themselves too. */
const REFLECTION_SERVICES: readonly DescService[] = [v1.ServerReflection, v1alpha.ServerReflection];

/** Request and response shapes common to v1 and v1alpha. */
type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** Everything a request can ask about, built once. */
interface ReflectionIndex {
  /** Fully-qualified names of every served service, reflection included. */
  readonly services: readonly string[];
  /** File path (as imported) → that file and its transitive imports, serialised, the file first. */
  readonly files: ReadonlyMap<string, Uint8Array[]>;
  /** Fully-qualified symbol (service, method, message, field, oneof, enum, enum value, extension) → file path. */
  readonly symbols: ReadonlyMap<string, string>;
  /** Extended message → extension number → file path declaring the extension. */
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, string>>;
  /** Fully-qualified names of every message type. */
  readonly messages: ReadonlySet<string>;
}

/**
 * Registers grpc.reflection.v1 and v1alpha ServerReflection, describing the
 * given services (their files and all imports) and the reflection services.
 */
export function reflectionRoutes(services: readonly DescService[]) {
  const index = buildIndex([...services, ...REFLECTION_SERVICES]);
  return (router: ConnectRouter) => {
    router.service(v1.ServerReflection, { serverReflectionInfo: (requests, ctx) => respond(index, requests, ctx.signal) });
    router.service(v1alpha.ServerReflection, { serverReflectionInfo: (requests, ctx) => respond(index, requests, ctx.signal) });
  };
}

/** The distinct services registered on a router so far, in registration order. */
export function registeredServices(router: ConnectRouter): DescService[] {
  return [...new Set(router.handlers.map((handler) => handler.service))];
}

/**
 * One response per request, in order, on the same stream (as grpc-go does).
 * Clients such as buf curl keep the stream open while they make their call,
 * so waiting for the next request ends when the call is aborted (deadline,
 * client gone, or server shutdown): else the server could not close.
 */
async function* respond<R extends ReflectionRequest>(index: ReflectionIndex, requests: AsyncIterable<R>, signal: AbortSignal) {
  const iterator = requests[Symbol.asyncIterator]();
  for (;;) {
    const next = await unlessAborted(iterator.next(), signal);
    if (next.done === true) return;
    const request = next.value;
    yield { validHost: request.host, originalRequest: request, messageResponse: answer(index, request) };
  }
}

function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(ConnectError.from(signal.reason, Code.Canceled));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function answer(index: ReflectionIndex, { messageRequest: ask }: ReflectionRequest): Answer {
  switch (ask.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return fileAnswer(index, ask.value, `file not found: ${ask.value}`);
    case "fileContainingSymbol":
      return fileAnswer(index, index.symbols.get(ask.value), `symbol not found: ${ask.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = ask.value;
      const file = index.extensions.get(containingType)?.get(extensionNumber);
      return fileAnswer(index, file, `extension not found: ${containingType} ${extensionNumber}`);
    }
    case "allExtensionNumbersOfType":
      return extensionNumbers(index, ask.value);
    default:
      // grpc-go fails the stream the same way.
      throw new ConnectError(`invalid MessageRequest: ${ask.case}`, Code.InvalidArgument);
  }
}

function fileAnswer(index: ReflectionIndex, path: string | undefined, notFound: string): Answer {
  const fileDescriptorProto = path === undefined ? undefined : index.files.get(path);
  if (fileDescriptorProto === undefined) return notFoundAnswer(notFound);
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
}

function extensionNumbers(index: ReflectionIndex, typeName: string): Answer {
  // A message nothing extends has none; anything else is unknown (grpc-go answers NOT_FOUND).
  const known = index.extensions.has(typeName) || index.messages.has(typeName);
  if (!known) return notFoundAnswer(`type not found: ${typeName}`);
  const numbers = [...(index.extensions.get(typeName)?.keys() ?? [])].sort((a, b) => a - b);
  return { case: "allExtensionNumbersResponse", value: { baseTypeName: typeName, extensionNumber: numbers } };
}

function notFoundAnswer(errorMessage: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage } };
}

// ---- building the index ----

function buildIndex(services: readonly DescService[]): ReflectionIndex {
  const files = new Map<string, DescFile>();
  for (const service of services) collectFiles(service.file, files);
  const symbols = new Map<string, string>();
  const extensions = new Map<string, Map<number, string>>();
  const messages = new Set<string>();
  for (const file of files.values()) indexFile(file.proto.name, file, { symbols, extensions, messages });
  const bytes = new Map([...files].map(([path, file]) => [path, toBinary(FileDescriptorProtoSchema, file.proto)]));
  const closures = new Map([...files].map(([path, file]) => [path, closureOf(file).map((f) => bytes.get(f.proto.name)!)]));
  return { services: [...new Set(services.map((s) => s.typeName))], files: closures, symbols, extensions, messages };
}

function collectFiles(file: DescFile, into: Map<string, DescFile>) {
  if (into.has(file.proto.name)) return;
  into.set(file.proto.name, file);
  for (const dependency of file.dependencies) collectFiles(dependency, into);
}

/** The file, then its imports breadth-first, each once (grpc-go's order). */
function closureOf(file: DescFile): DescFile[] {
  const seen = new Map<string, DescFile>([[file.proto.name, file]]);
  for (const current of seen.values()) {
    for (const dependency of current.dependencies) if (!seen.has(dependency.proto.name)) seen.set(dependency.proto.name, dependency);
  }
  return [...seen.values()];
}

interface Sink {
  symbols: Map<string, string>;
  extensions: Map<string, Map<number, string>>;
  messages: Set<string>;
}

const qualify = (scope: string, name: string) => (scope === "" ? name : `${scope}.${name}`);

/** Walks the FileDescriptorProto, which (unlike DescMessage) also lists map entry messages. */
function indexFile(path: string, file: DescFile, sink: Sink) {
  const scope = file.proto.package;
  for (const service of file.proto.service) {
    const name = qualify(scope, service.name);
    sink.symbols.set(name, path);
    for (const method of service.method) sink.symbols.set(qualify(name, method.name), path);
  }
  for (const message of file.proto.messageType) indexMessage(path, scope, message, sink);
  for (const enumType of file.proto.enumType) indexEnum(path, scope, enumType, sink);
  for (const extension of file.proto.extension) indexExtension(path, scope, extension, sink);
}

function indexMessage(path: string, scope: string, message: DescriptorProto, sink: Sink) {
  const name = qualify(scope, message.name);
  sink.symbols.set(name, path);
  sink.messages.add(name);
  for (const field of message.field) sink.symbols.set(qualify(name, field.name), path);
  for (const oneof of message.oneofDecl) sink.symbols.set(qualify(name, oneof.name), path);
  for (const nested of message.nestedType) indexMessage(path, name, nested, sink);
  for (const enumType of message.enumType) indexEnum(path, name, enumType, sink);
  for (const extension of message.extension) indexExtension(path, name, extension, sink);
}

/** Enum values are scoped like C++ enumerators: siblings of their enum. */
function indexEnum(path: string, scope: string, enumType: EnumDescriptorProto, sink: Sink) {
  sink.symbols.set(qualify(scope, enumType.name), path);
  for (const value of enumType.value) sink.symbols.set(qualify(scope, value.name), path);
}

function indexExtension(path: string, scope: string, extension: FieldDescriptorProto, sink: Sink) {
  sink.symbols.set(qualify(scope, extension.name), path);
  const extendee = extension.extendee.replace(/^\./, "");
  const numbers = sink.extensions.get(extendee) ?? new Map<number, string>();
  sink.extensions.set(extendee, numbers.set(extension.number, path));
}
