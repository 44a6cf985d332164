import { describe, expect, it } from 'vitest';
import { LayerProgress, progressBar } from '../../src/cli/transfer-progress.js';
import type { TransferEvent } from '../../src/registry/events.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const sink = (isTTY: boolean) => {
  let text = '';
  return { out: { write: (s: string) => (text += s), isTTY, columns: 200 }, text: () => text };
};
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '\n');

const PULL: TransferEvent[] = [
  { type: 'layer', digest: A, state: 'exists' },
  { type: 'layer', digest: B, state: 'waiting' },
  { type: 'bytes', digest: B, direction: 'down', done: 10, total: 100 },
  { type: 'layer', digest: B, state: 'downloaded' },
  { type: 'layer', digest: B, state: 'extracting' },
  { type: 'layer', digest: B, state: 'pulled' },
  { type: 'pull-done', ref: 'hello-world:latest', digest: 'sha256:x', upToDate: false },
];

describe('transfer progress (docker\'s pull and push output)', () => {
  it('draws docker\'s bar with cli-progress\'s formatter', () => {
    expect(progressBar(0, 100)).toBe(`[>${' '.repeat(50)}] 0B/100B`);
    expect(progressBar(50, 100)).toBe(`[${'='.repeat(25)}>${' '.repeat(25)}] 50B/100B`);
    expect(progressBar(1500, 3000)).toMatch(/\] 1\.5kB\/3kB$/);
  });

  it('prints only settled states when not on a terminal', () => {
    const s = sink(false);
    const emit = new LayerProgress(s.out).listener();
    for (const e of PULL) emit(e);
    expect(s.text()).toBe('aaaaaaaaaaaa: Already exists\nbbbbbbbbbbbb: Pull complete\nDigest: sha256:x\nStatus: Downloaded newer image for hello-world:latest\n');
  });

  it('push: the repository line, one line per layer, the digest line', () => {
    const s = sink(false);
    const emit = new LayerProgress(s.out).listener();
    for (const e of [
      { type: 'push-start', repository: 'localhost:5000/hello' },
      { type: 'layer', digest: A, state: 'preparing' },
      { type: 'bytes', digest: A, direction: 'up', done: 5, total: 10 },
      { type: 'layer', digest: A, state: 'pushed' },
      { type: 'layer', digest: B, state: 'mounted' },
      { type: 'push-done', tag: 'latest', digest: 'sha256:y', size: 397 },
    ] satisfies TransferEvent[]) emit(e);
    expect(s.text()).toBe('The push refers to repository [localhost:5000/hello]\naaaaaaaaaaaa: Pushed\nbbbbbbbbbbbb: Layer already exists\nlatest: digest: sha256:y size: 397\n');
  });

  it('on a terminal, redraws the layer lines in place and leaves their last state above the status lines', () => {
    const s = sink(true);
    const emit = new LayerProgress(s.out).listener();
    for (const e of PULL) emit(e);
    const text = plain(s.text());
    expect(text).toContain('aaaaaaaaaaaa: Already exists');
    expect(text.lastIndexOf('bbbbbbbbbbbb: Pull complete')).toBeGreaterThan(-1);
    expect(text.lastIndexOf('bbbbbbbbbbbb: Pull complete')).toBeLessThan(text.indexOf('Digest: sha256:x'));
    expect(text.trimEnd().endsWith('Status: Downloaded newer image for hello-world:latest')).toBe(true);
  });
});
