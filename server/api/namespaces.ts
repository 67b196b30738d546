import type { ConnectRouter } from "@connectrpc/connect";
import { Namespaces } from "../../gen/containerd/services/namespaces/v1/namespaces_pb.js";
import type { NamespaceStore } from "../namespaces/sql-store.js";

/**
 * containerd.services.namespaces.v1.Namespaces: Get and List. As containerd
 * 1.6 does, Get answers every name, with no labels when it has none.
 */
export function namespacesRoutes(namespaces: NamespaceStore) {
  return (router: ConnectRouter) =>
    router.service(Namespaces, {
      async get(request) {
        return { namespace: (await namespaces.get(request.name)) ?? { name: request.name, labels: {} } };
      },
      async list() {
        return { namespaces: await namespaces.list() };
      },
    });
}
