import type { ConnectRouter } from "@connectrpc/connect";
import type { ImageService } from "../images/service.js";
import { containerdImagesRoutes } from "./containerd-images.js";
import { seedImagesRoutes } from "./seed-images.js";

export interface Services {
  images: ImageService;
}

/** Every Connect service this process serves. */
export function routes(services: Services) {
  return (router: ConnectRouter) => {
    seedImagesRoutes(services.images)(router);
    containerdImagesRoutes(services.images)(router);
  };
}
