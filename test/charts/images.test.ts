// Image versioning: the table of record (charts/images.json) against the
// images' build inputs, defaults from the running release, earlier
// releases' defaults read as unpinned, pod templates that don't move with
// the project's version, and volume claim templates that move with nothing.
import { describe, expect, it } from 'vitest';
import { imageInputFiles, imageInputsHash } from '../../charts/image-inputs.ts';
import { COMPONENT_IMAGE, IMAGE_NAMES, IMAGE_TABLE, defaultImages, imageVersion, resolveImage, type ImageTable } from '../../charts/images.ts';
import { renderStack } from '../../charts/render.ts';
import { releaseTable } from '../../charts/release.ts';
import { COMPONENTS } from '../../charts/rules.ts';
import { DEFAULT_IMAGES, PROJECT_VERSION, parseSpec } from '../../charts/spec.ts';
import { NAME, NAMESPACE, type K8s } from './helpers.ts';

const stack = (o: { version?: string; managedBy?: string; spec?: object } = {}) =>
  renderStack({ name: NAME, namespace: NAMESPACE, ...o }) as K8s[];
const templates = (objects: K8s[]) =>
  Object.fromEntries(objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o['kind'])).map((o) => [o['kind'] + '/' + o['metadata'].name, o['spec'].template]));

describe('the image table (charts/images.json)', () => {
  it.each(IMAGE_NAMES)('%s: its recorded input hash is its inputs’ hash (else its inputs changed and its tag did not: make release VERSION=<next>)', (name) => {
    expect(imageInputFiles(name).length).toBeGreaterThan(0);
    expect(imageInputsHash(name), `securevote/${name}:${IMAGE_TABLE.images[name].tag}`).toBe(IMAGE_TABLE.images[name].inputs);
  });

  it('the project version is not an input of any image', () => {
    for (const name of IMAGE_NAMES) expect(imageInputFiles(name)).not.toContain('package.json');
  });

  it('gives the default images: securevote/<image>:<its own tag>', () => {
    expect(DEFAULT_IMAGES).toEqual({
      database: `securevote/postgres:${IMAGE_TABLE.images.postgres.tag}`,
      cache: `securevote/redis:${IMAGE_TABLE.images.redis.tag}`,
      backend: `securevote/backend:${IMAGE_TABLE.images.backend.tag}`,
      frontend: `securevote/frontend:${IMAGE_TABLE.images.frontend.tag}`,
      proxy: `securevote/proxy:${IMAGE_TABLE.images.proxy.tag}`,
    });
  });

  it('keeps the 0.1.0 defaults the first CRD stored in every resource as past defaults', () => {
    // The exporters came later: the first CRD never stored them.
    for (const n of Object.values(COMPONENT_IMAGE)) expect(IMAGE_TABLE.pastDefaults).toContain(`securevote/${n}:0.1.0`);
  });
});

describe('image defaults come from the running release', () => {
  const next: ImageTable = {
    images: { ...IMAGE_TABLE.images, backend: { tag: '0.2.0', inputs: 'x' } },
    pastDefaults: [...IMAGE_TABLE.pastDefaults],
  };

  it('unset → this release’s default', () => {
    expect(resolveImage('backend', undefined, next)).toBe('securevote/backend:0.2.0');
  });

  it('an earlier release’s default (stored by the old CRD default) → this release’s default', () => {
    expect(resolveImage('backend', 'securevote/backend:0.1.0', next)).toBe('securevote/backend:0.2.0');
    expect(resolveImage('frontend', 'securevote/frontend:0.1.0', next)).toBe(`securevote/frontend:${IMAGE_TABLE.images.frontend.tag}`);
  });

  it('a pinned image stays, even one of ours at a tag that was never a default', () => {
    expect(resolveImage('backend', 'registry.example/backend:1.2.3', next)).toBe('registry.example/backend:1.2.3');
    expect(resolveImage('backend', 'securevote/backend:0.1.0-debug', next)).toBe('securevote/backend:0.1.0-debug');
  });

  it('parseSpec fills and replaces images the same way', () => {
    const r = parseSpec({ backend: { image: IMAGE_TABLE.pastDefaults.find((i) => i.startsWith('securevote/backend:')) }, proxy: { image: 'mine/nginx:7' } });
    expect(r.ok && r.spec.backend.image).toBe(DEFAULT_IMAGES.backend);
    expect(r.ok && r.spec.proxy.image).toBe('mine/nginx:7');
    expect(r.ok && COMPONENTS.map((c) => r.spec[c].image)).toEqual(COMPONENTS.map((c) => (c === 'proxy' ? 'mine/nginx:7' : DEFAULT_IMAGES[c])));
  });
});

describe('imageVersion: the label value of an image reference', () => {
  it.each([
    ['securevote/backend:0.2.0', '0.2.0'],
    ['registry.example:5000/team/backend:1.2.3-rc.1', '1.2.3-rc.1'],
    ['registry.example:5000/backend', 'latest'],
    ['backend@sha256:0123456789abcdef0123', 'sha256-0123456789ab'],
    ['backend:_weird_', 'weird'],
  ])('%s → %s', (image, version) => {
    expect(imageVersion(image)).toBe(version);
  });
});

describe('versions on pod templates and claim templates', () => {
  it('pod templates are identical under two project versions with the same image table', () => {
    expect(templates(stack({ version: '0.1.0' }))).toEqual(templates(stack({ version: '7.3.9' })));
  });

  it('a pod template carries its image’s version; other objects the project’s', () => {
    const objects = stack({ version: '7.3.9', spec: { backend: { image: 'registry.example/backend:1.2.3' } } });
    const backend = objects.find((o) => o['kind'] === 'Deployment' && o['metadata'].name === `${NAME}-backend`)!;
    expect(backend['spec'].template.metadata.labels['app.kubernetes.io/version']).toBe('1.2.3');
    expect(backend['metadata'].labels['app.kubernetes.io/version']).toBe('7.3.9');
    const db = objects.find((o) => o['kind'] === 'StatefulSet')!;
    expect(db['spec'].template.metadata.labels['app.kubernetes.io/version']).toBe(IMAGE_TABLE.images.postgres.tag);
  });

  it('the volume claim template carries only the stable selector labels: equal across versions and managers', () => {
    const claims = (o: { version?: string; managedBy?: string }) => stack(o).find((x) => x['kind'] === 'StatefulSet')!['spec'].volumeClaimTemplates;
    const a = claims({ version: '0.1.0', managedBy: 'cdk8s' });
    expect(a[0].metadata.labels).toEqual({
      'app.kubernetes.io/part-of': 'securevote',
      'app.kubernetes.io/instance': NAME,
      'app.kubernetes.io/component': 'database',
    });
    expect(claims({ version: '0.2.0', managedBy: 'securevote-operator' })).toEqual(a);
  });
});

describe('releaseTable (make release)', () => {
  // A release after any this table has seen.
  const NEXT = '99.0.0';
  const hashes = Object.fromEntries(IMAGE_NAMES.map((n) => [n, IMAGE_TABLE.images[n].inputs]));

  it('re-tags nothing when no input changed', () => {
    const r = releaseTable(IMAGE_TABLE, NEXT, hashes);
    expect(r.retagged).toEqual([]);
    expect(r.table.images).toEqual(IMAGE_TABLE.images);
  });

  it('re-tags only the images whose inputs changed, and remembers their old defaults', () => {
    const r = releaseTable(IMAGE_TABLE, NEXT, { ...hashes, backend: 'changed' });
    expect(r.retagged).toEqual(['backend']);
    expect(r.table.images.backend).toEqual({ tag: NEXT, inputs: 'changed' });
    expect(r.table.images.frontend).toEqual(IMAGE_TABLE.images.frontend);
    expect(r.table.pastDefaults).toContain(defaultImages(IMAGE_TABLE).backend);
    expect(defaultImages(r.table).backend).toBe(`securevote/backend:${NEXT}`);
  });

  it('the project version is package.json’s', () => {
    expect(PROJECT_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});
