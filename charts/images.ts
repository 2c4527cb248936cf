/**
 * The component images, each versioned on its own. charts/images.json is the
 * table of record: each image's tag and a hash of its build inputs (the
 * files its Dockerfile copies, scripts/image-inputs.ts). A release re-tags
 * only the images whose inputs changed (`make release VERSION=x.y.z`), so an
 * operator release that leaves an image alone leaves its pods alone too.
 *
 * Past defaults: a SecureVote created under an operator whose CRD still
 * wrote `default: securevote/backend:0.1.0` into the stored spec carries
 * that image as if the user had pinned it. An image equal to one of this
 * release's or an earlier release's default images (`pastDefaults`, kept
 * by the release verb) is therefore read as "unpinned" and replaced by this
 * release's default; any other image is the user's and is kept.
 */
import table from './images.json' with { type: 'json' };
import type { Component } from './rules.ts';

/** The images the stack runs, by image name (securevote/<name>): one per component, and the exporters beside three of them. */
export const IMAGE_NAMES = ['postgres', 'redis', 'backend', 'frontend', 'proxy', 'exporters'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export interface ImageEntry {
  /** The image's own version: its tag. */
  readonly tag: string;
  /** sha256 of its build inputs (scripts/image-inputs.ts), for the drift test and the release verb. */
  readonly inputs: string;
}

export interface ImageTable {
  readonly images: Readonly<Record<ImageName, ImageEntry>>;
  /** Default images of earlier releases: read as unpinned (see above). */
  readonly pastDefaults: readonly string[];
}

export const IMAGE_TABLE: ImageTable = table as ImageTable;

/** The image each component runs. */
export const COMPONENT_IMAGE: Readonly<Record<Component, ImageName>> = {
  database: 'postgres',
  cache: 'redis',
  backend: 'backend',
  frontend: 'frontend',
  proxy: 'proxy',
};

/** An image's reference in a table: securevote/<image>:<its tag>. */
export function defaultImage(name: ImageName, t: ImageTable = IMAGE_TABLE): string {
  return `securevote/${name}:${t.images[name].tag}`;
}

/** The default image of each component in a table. */
export function defaultImages(t: ImageTable = IMAGE_TABLE): Record<Component, string> {
  return Object.fromEntries(Object.entries(COMPONENT_IMAGE).map(([c, name]) => [c, defaultImage(name, t)])) as Record<Component, string>;
}

/**
 * The image to run: the spec's when the user pinned one, else this
 * release's default. An image that was the default of this or an earlier
 * release counts as unpinned (a stored spec of an old CRD carries it).
 */
export function resolveImage(component: Component, image: string | undefined, t: ImageTable = IMAGE_TABLE): string {
  return resolveNamed(COMPONENT_IMAGE[component], image, t);
}

/** resolveImage for any image of the table (the exporters have no component of their own). */
export function resolveNamed(name: ImageName, image: string | undefined, t: ImageTable = IMAGE_TABLE): string {
  const def = defaultImage(name, t);
  if (image === undefined || image === def || t.pastDefaults.includes(image)) return def;
  return image;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * The version an image reference carries, as a label value: its tag
 * (`securevote/backend:0.2.0` → `0.2.0`), else the start of its digest
 * (`…@sha256:abc…` → `sha256-abc…`, 12 hex digits), else `latest`.
 */
export function imageVersion(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) {
    const digest = image.slice(at + 1);
    const [algo, hex] = digest.split(':');
    return sanitize(`${algo ?? 'digest'}-${(hex ?? '').slice(0, 12)}`);
  }
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? sanitize(image.slice(colon + 1)) : 'latest';
}

function sanitize(v: string): string {
  let s = v.replace(/[^-A-Za-z0-9_.]/g, '_').slice(0, 63);
  s = s.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
  return s !== '' && LABEL_VALUE.test(s) ? s : 'unknown';
}
