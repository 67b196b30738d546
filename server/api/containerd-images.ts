import type { ConnectRouter } from "@connectrpc/connect";
import { GetImageResponseSchema, Images } from "../../gen/containerd/services/images/v1/images_pb.js";
import type { ImageService } from "../images/service.js";
import { answerPerImage } from "./answers.js";
import { dateFromWire, imageFromWire, imageToWire } from "./convert.js";
import { requiredNamespace } from "./namespace.js";

/** containerd.services.images.v1.Images, as containerd 1.6 serves it. */
export function containerdImagesRoutes(images: ImageService) {
  const getAnswer = answerPerImage(GetImageResponseSchema, (image) => ({ image: imageToWire(image) }));
  return (router: ConnectRouter) =>
    router.service(Images, {
      async get(request, ctx) {
        return getAnswer(await images.get(requiredNamespace(ctx), request.name));
      },
      async list(request, ctx) {
        const found = await images.list(requiredNamespace(ctx), request.filters, ctx.signal);
        return { images: found.map(imageToWire) };
      },
      async create(request, ctx) {
        const image = imageFromWire(request.image);
        const sourceDateEpoch = dateFromWire(request.sourceDateEpoch, "source_date_epoch");
        const created = await images.create(requiredNamespace(ctx), image, { sourceDateEpoch });
        return { image: imageToWire(created) };
      },
      async update(request, ctx) {
        const image = imageFromWire(request.image);
        const paths = request.updateMask?.paths ?? [];
        const sourceDateEpoch = dateFromWire(request.sourceDateEpoch, "source_date_epoch");
        const updated = await images.update(requiredNamespace(ctx), image, paths, { sourceDateEpoch });
        return { image: imageToWire(updated) };
      },
      async delete(request, ctx) {
        // `sync` waits for garbage collection, and there is nothing to collect here.
        await images.delete(requiredNamespace(ctx), request.name, request.target?.digest || undefined);
        return {};
      },
    });
}
