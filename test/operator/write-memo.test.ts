import { describe, expect, it } from 'vitest';
import { WriteMemo } from '../../operator/apply.ts';

describe('WriteMemo', () => {
  it('holds a write until the cache shows it, or its time lapses', () => {
    let now = 0;
    const memo = new WriteMemo(5_000, () => now);
    memo.record('a', 'h1', { metadata: { resourceVersion: '10' } });
    expect(memo.pending('a', 'h1', { metadata: { resourceVersion: '9' } })).toBe(true);
    expect(memo.pending('a', 'h2', { metadata: { resourceVersion: '9' } })).toBe(false);
    memo.record('a', 'h1', { metadata: { resourceVersion: '10' } });
    expect(memo.pending('a', 'h1', { metadata: { resourceVersion: '10' } })).toBe(false);
    memo.record('a', 'h1', { metadata: { resourceVersion: '11' } });
    now = 5_001;
    expect(memo.pending('a', 'h1', { metadata: { resourceVersion: '9' } })).toBe(false);
  });

  it('forgets lapsed writes whose keys are never looked at again, and keeps recent ones', () => {
    let now = 0;
    const memo = new WriteMemo(5_000, () => now);
    for (let i = 0; i < 100; i++) memo.record(`gone-${i}`, 'h', { metadata: { resourceVersion: String(i + 1) } });
    now = 3_000;
    memo.record('recent', 'h', { metadata: { resourceVersion: '200' } });
    expect(memo.size()).toBe(101);
    now = 6_000;
    memo.record('new', 'h', { metadata: { resourceVersion: '201' } });
    expect(memo.size()).toBe(2);
    expect(memo.pending('recent', 'h', { metadata: { resourceVersion: '1' } })).toBe(true);
  });
});
