import { describe, expect, it } from 'vitest';
import { humanSize, timeAgo } from '../../src/cli/format.js';

describe('humanSize (docker\'s units.HumanSizeWithPrecision)', () => {
  it.each([
    [0, 3, '0B'],
    [910, 3, '910B'],
    [13_300, 3, '13.3kB'],
    [1_980_000, 3, '1.98MB'],
    [188_000_000, 3, '188MB'],
    [1500, 4, '1.5kB'],
    [2_335_000, 4, '2.335MB'],
    [30_000_000, 4, '30MB'],
  ])('humanSize(%i, %i) = %s', (n, p, s) => expect(humanSize(n, p)).toBe(s));
});

describe('timeAgo', () => {
  it('says ages as docker does', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(timeAgo('2026-01-01T00:00:00Z', now)).toBe('Less than a second ago');
    expect(timeAgo('2025-12-31T23:59:00Z', now)).toBe('About a minute ago');
    expect(timeAgo(undefined, now)).toBe('N/A');
  });

  it('pads columns to the widest cell plus three spaces', () => {
  });
});
