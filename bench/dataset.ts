// The bench's images and the request pools the Python load generator sends,
// pre-encoded with the generated schemas (toBinary) so Python needs no protoc.
//
// Pool file format: records of [4-byte big-endian length][message bytes].

import { create, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import {
  CreateImageRequestSchema,
  DeleteImageRequestSchema,
  GetImageRequestSchema,
  ImageSchema,
  ListImagesRequestSchema,
  UpdateImageRequestSchema,
  type Image,
} from "../gen/containerd/services/images/v1/images_pb.js";
import { DescriptorSchema } from "../gen/containerd/types/descriptor_pb.js";

const ENVS = ["dev", "staging", "test"];

/** Filter that matches every 10th pre-filled image. */
export const PROD_FILTER = "labels.env==prod";
/** The label Update sets (mask `labels.bench.touched`: the rest of the path is the key). */
export const UPDATE_LABEL = "bench.touched";

/** Name of pre-filled image i: 40 teams x 50 apps per tag generation, unique for any i. */
export function imageName(i: number): string {
  const team = i % 40;
  const app = Math.floor(i / 40) % 50;
  return `registry.example.com/team-${team}/app-${app}:v1.${Math.floor(i / 2000)}.${i % 7}`;
}

/** Names for Create (and later Delete) in one cell; never collide with the pre-filled ones. */
export function createdName(run: number, concurrency: number, j: number): string {
  return `registry.example.com/bench-r${run}-c${concurrency}/app-${j % 100}:build-${j}`;
}

function digest(seed: string): string {
  return `sha256:${createHash("sha256").update(seed).digest("hex")}`;
}

export function image(name: string, i: number): Image {
  const team = `team-${i % 40}`;
  return create(ImageSchema, {
    name,
    labels: {
      env: i % 10 === 0 ? "prod" : ENVS[i % 3]!,
      team,
      "org.opencontainers.image.source": `https://git.example.com/${team}/app-${Math.floor(i / 40) % 50}`,
      "io.example.build": String(100_000 + i),
    },
    target: create(DescriptorSchema, {
      mediaType: "application/vnd.oci.image.index.v1+json",
      digest: digest(name),
      size: BigInt(1_024 + (i % 65_536)),
      annotations: { "org.opencontainers.image.ref.name": name.slice(name.lastIndexOf(":") + 1) },
    }),
  });
}

function encode<Desc extends DescMessage>(schema: Desc, messages: Iterable<MessageShape<Desc>>): Buffer {
  const parts: Buffer[] = [];
  for (const message of messages) {
    const bytes = toBinary(schema, message);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, Buffer.from(bytes));
  }
  return Buffer.concat(parts);
}

function* range<T>(count: number, fn: (i: number) => T): Iterable<T> {
  for (let i = 0; i < count; i++) yield fn(i);
}

/** Write a pool file; returns its path. */
export function writePool<Desc extends DescMessage>(file: string, schema: Desc, messages: Iterable<MessageShape<Desc>>): string {
  writeFileSync(file, encode(schema, messages));
  return file;
}

export const pools = {
  fill: (file: string, images: number) =>
    writePool(file, CreateImageRequestSchema, range(images, (i) => create(CreateImageRequestSchema, { image: image(imageName(i), i) }))),
  get: (file: string, images: number) =>
    writePool(file, GetImageRequestSchema, range(images, (i) => create(GetImageRequestSchema, { name: imageName(i) }))),
  list: (file: string, filters: string[]) => writePool(file, ListImagesRequestSchema, [create(ListImagesRequestSchema, { filters })]),
  update: (file: string, images: number, run: number) =>
    writePool(
      file,
      UpdateImageRequestSchema,
      range(images, (i) =>
        create(UpdateImageRequestSchema, {
          image: create(ImageSchema, { name: imageName(i), labels: { [UPDATE_LABEL]: `r${run}-${i}` } }),
          updateMask: create(FieldMaskSchema, { paths: [`labels.${UPDATE_LABEL}`] }),
        }),
      ),
    ),
  create: (file: string, count: number, run: number, concurrency: number) =>
    writePool(
      file,
      CreateImageRequestSchema,
      range(count, (j) => create(CreateImageRequestSchema, { image: image(createdName(run, concurrency, j), j) })),
    ),
  delete: (file: string, count: number, run: number, concurrency: number) =>
    writePool(file, DeleteImageRequestSchema, range(count, (j) => create(DeleteImageRequestSchema, { name: createdName(run, concurrency, j) }))),
};
