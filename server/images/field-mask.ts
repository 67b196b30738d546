import { InvalidArgumentError } from "../errors.js";
import type { ImageFields } from "./store.js";

/**
 * Applies containerd's Update rules: with no paths the update replaces the
 * image; otherwise each path copies one part of `update` over `current`.
 * An unknown path rejects the whole update, so nothing is applied partially.
 */
export function applyFieldMask(current: ImageFields, update: ImageFields, paths: readonly string[]): ImageFields {
  if (paths.length === 0) return update;
  let labels = { ...current.labels };
  let target = { ...current.target, annotations: { ...current.target.annotations } };
  for (const path of paths) {
    if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      labels[key] = update.labels[key] ?? "";
    } else if (path.startsWith("annotations.")) {
      const key = path.slice("annotations.".length);
      target.annotations[key] = update.target.annotations[key] ?? "";
    } else if (path === "labels") {
      labels = { ...update.labels };
    } else if (path === "target") {
      target = { ...update.target, annotations: { ...update.target.annotations } };
    } else if (path === "annotations") {
      target.annotations = { ...update.target.annotations };
    } else {
      throw new InvalidArgumentError(`cannot update ${JSON.stringify(path)} field on image ${JSON.stringify(current.name)}`);
    }
  }
  return { name: current.name, labels, target };
}
