/** summarize(): self and inclusive time per function from a V8 .cpuprofile. */
import { describe, expect, it } from 'vitest';
import { summarize, type CpuProfile } from '../../bench/cpu-profile.js';

const frame = (functionName: string) => ({ functionName, url: '', lineNumber: 0 });

// root → a → b, and a recursive c → c under root.
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 4] },
    { id: 2, callFrame: frame('a'), children: [3] },
    { id: 3, callFrame: frame('b') },
    { id: 4, callFrame: frame('c'), children: [5] },
    { id: 5, callFrame: frame('c') },
  ],
  samples: [3, 3, 2, 5, 4],
  timeDeltas: [1000, 1000, 2000, 4000, 500],
};

describe('summarize', () => {
  const s = summarize(profile);
  it('adds up the sampled time', () => expect(s.totalMs).toBeCloseTo(8.5));
  it.each([
    { fn: 'b', self: 2, inclusive: 2 },
    { fn: 'a', self: 2, inclusive: 4 },
    { fn: 'c', self: 4.5, inclusive: 4.5 }, // recursion counted once per sample
    { fn: '(root)', self: 0, inclusive: 8.5 },
  ])('$fn: self $self ms, inclusive $inclusive ms', ({ fn, self, inclusive }) => {
    expect(new Map(s.self).get(fn) ?? 0).toBeCloseTo(self);
    expect(new Map(s.inclusive).get(fn)).toBeCloseTo(inclusive);
  });
  it('sorts by time, most first', () => expect(s.self[0]![0]).toBe('c'));
});
