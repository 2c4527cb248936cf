// The rendering cache: a reconcile of an unchanged resource renders nothing.
import { describe, expect, it } from 'vitest';
import { DesiredCache } from '../../operator/desired-cache.ts';
import { parsed, sv } from './securevote.ts';

describe('DesiredCache', () => {
  it('renders once per generation and uid', () => {
    const cache = new DesiredCache();
    const a = cache.get(sv({}, 1), parsed({}));
    const again = cache.get(sv({}, 1), parsed({}));
    expect(again).toEqual(a);
    expect(again).not.toBe(a); // a copy: a caller changing it changes nothing kept
    expect(cache.renders).toBe(1);
    cache.get(sv({}, 2), parsed({}));
    expect(cache.renders).toBe(2);
    const other = { ...sv({}, 2), metadata: { ...sv({}, 2).metadata, uid: 'uid-2' } };
    cache.get(other, parsed({}));
    expect(cache.renders).toBe(3);
    cache.forget('ns1/demo');
    expect(cache.size()).toBe(0);
  });
  it('keeps a rendering in a tenth of its JSON, and gives back exactly what was rendered', () => {
    const cache = new DesiredCache();
    // Not the template's spec nor its names: what a packed rendering holds beside the dictionary.
    const spec = parsed({ backend: { replicas: 3 }, retainOnDelete: true });
    const rendered = cache.get(sv({ backend: { replicas: 3 }, retainOnDelete: true }, 4, 'elections-2027'), spec);
    const json = Buffer.byteLength(JSON.stringify(rendered));
    expect(cache.bytes()).toBeGreaterThan(0);
    expect(cache.bytes()).toBeLessThan(json / 10);
    const again = cache.get(sv({ backend: { replicas: 3 }, retainOnDelete: true }, 4, 'elections-2027'), spec);
    expect(again).toEqual(rendered);
    expect(again.map((o) => o.kind)).toEqual(rendered.map((o) => o.kind));
    expect(cache.renders).toBe(1);
  });
  it('a queue cycling through more resources than it holds misses on every visit; holding them all, it renders each once', () => {
    const cycle = (bound: number): number => {
      const cache = new DesiredCache(bound);
      for (let round = 0; round < 3; round++) for (let i = 0; i < 20; i++) cache.get(sv({}, 1, `sv-${i}`), parsed({}));
      return cache.renders;
    };
    expect(cycle(19)).toBe(60);
    expect(cycle(20)).toBe(20);
  });
  it('keeps at most its bound, dropping the least recently used', () => {
    const cache = new DesiredCache(2);
    cache.get(sv({}, 1, 'a'), parsed({}));
    cache.get(sv({}, 1, 'b'), parsed({}));
    cache.get(sv({}, 1, 'a'), parsed({})); // a is now the most recent
    cache.get(sv({}, 1, 'c'), parsed({})); // b goes
    expect(cache.size()).toBe(2);
    cache.get(sv({}, 1, 'a'), parsed({}));
    expect(cache.renders).toBe(3);
    cache.get(sv({}, 1, 'b'), parsed({}));
    expect(cache.renders).toBe(4);
  });
});
