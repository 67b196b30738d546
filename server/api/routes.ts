import type { ConnectRouter } from "@connectrpc/connect";
import type { ImageService } from "../images/service.js";
import type { LeaseService } from "../leases/service.js";
import type { NamespaceStore } from "../namespaces/sql-store.js";
import { containerdImagesRoutes } from "./containerd-images.js";
import { leasesRoutes } from "./leases.js";
import { namespacesRoutes } from "./namespaces.js";
import { reflectionRoutes, registeredServices } from "./reflection.js";
import { seedImagesRoutes } from "./seed-images.js";

export interface Services {
  images: ImageService;
  leases: LeaseService;
  namespaces: NamespaceStore;
}

/**
 * Every Connect service this process serves, then gRPC reflection describing
 * them: the list reflection reports is read back from the router, so a
 * service registered here is reflected without being named twice.
 */
export function routes(services: Services) {
  return (router: ConnectRouter) => {
    seedImagesRoutes(services.images)(router);
    containerdImagesRoutes(services.images)(router);
    leasesRoutes(services.leases)(router);
    namespacesRoutes(services.namespaces)(router);
    reflectionRoutes(registeredServices(router))(router);
  };
}
