import type { ConnectRouter } from "@connectrpc/connect";
import { GetResponseSchema, Images } from "../../gen/containerd/v1/images_pb.js";
import type { ImageService } from "../images/service.js";
import { answerPerImage } from "./answers.js";
import { imageFromWire, imageToWire } from "./convert.js";
import { seedNamespace } from "./namespace.js";

/** containerd.v1.Images, the seed API: Put is an upsert, no header means "default". */
export function seedImagesRoutes(images: ImageService) {
  const getAnswer = answerPerImage(GetResponseSchema, (image) => ({ image: imageToWire(image) }));
  return (router: ConnectRouter) =>
    router.service(Images, {
      async get(request, ctx) {
        return getAnswer(await images.get(seedNamespace(ctx), request.name));
      },
      async put(request, ctx) {
        const image = imageFromWire(request.image);
        await images.put(seedNamespace(ctx), image);
        return {};
      },
      async list(request, ctx) {
        const found = await images.list(seedNamespace(ctx), request.filters, ctx.signal);
        return { images: found.map(imageToWire) };
      },
      async delete(request, ctx) {
        await images.delete(seedNamespace(ctx), request.name);
        return {};
      },
    });
}
