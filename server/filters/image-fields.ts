import type { Image } from "../images/image.js";
import { mapField, nonEmpty } from "./field-values.js";
import type { FieldAdaptor } from "./match.js";

/**
 * Field paths of an image, following containerd's metadata adaptor:
 * `name`, `target.digest`, `target.mediatype`, `labels.<key>` and
 * `annotations.<key>` (the target's annotations). Like containerd, only the
 * leading elements are looked at (`name.x` reads `name`), empty strings are
 * absent, and a map key is the rest of the path joined with ".".
 */
export function imageFields(image: Image): FieldAdaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case "name":
        return nonEmpty(image.name);
      case "target":
        return targetField(image, fieldpath[1]);
      case "labels":
        return mapField(image.labels, fieldpath.slice(1));
      case "annotations":
        return mapField(image.target.annotations, fieldpath.slice(1));
      default:
        return undefined;
    }
  };
}

function targetField(image: Image, name: string | undefined): string | undefined {
  if (name === "digest") return nonEmpty(image.target.digest);
  if (name === "mediatype") return nonEmpty(image.target.mediaType);
  return undefined;
}
