import { describe, expect, it } from 'vitest';
import { LayerProgress, progressBar } from '../../src/registry/progress.js';

const sink = (isTTY: boolean) => {
  let text = '';
  return { out: { write: (s: string) => (text += s), isTTY, columns: 200 }, text: () => text };
};

describe('progress', () => {
  it('draws a 50-wide bar', () => {
    expect(progressBar(0, 100)).toBe(`[>${' '.repeat(49)}] 0B/100B`);
    expect(progressBar(50, 100)).toBe(`[${'='.repeat(25)}>${' '.repeat(24)}] 50B/100B`);
    expect(progressBar(100, 100)).toBe(`[${'='.repeat(50)}] 100B/100B`);
  });

  it('prints only settled states when not on a terminal', () => {
    const s = sink(false);
    const p = new LayerProgress(s.out);
    p.done('511136ea3c5a', 'Already exists');
    p.status('31cbccb51277', 'Waiting');
    p.bytes('31cbccb51277', 'Downloading', 10, 100);
    p.done('31cbccb51277', 'Pull complete');
    p.print('Status: Downloaded newer image for hello-world:latest');
    expect(s.text()).toBe('511136ea3c5a: Already exists\n31cbccb51277: Pull complete\nStatus: Downloaded newer image for hello-world:latest\n');
  });

  it('redraws the layer lines in place on a terminal', () => {
    const s = sink(true);
    const p = new LayerProgress(s.out);
    p.status('aaaaaaaaaaaa', 'Waiting');
    p.status('bbbbbbbbbbbb', 'Waiting');
    p.done('aaaaaaaaaaaa', 'Pull complete');
    p.print('Digest: sha256:x');
    expect(s.text()).toBe(
      '\x1b[2Kaaaaaaaaaaaa: Waiting\n' +
        '\x1b[1A\x1b[2Kaaaaaaaaaaaa: Waiting\n\x1b[2Kbbbbbbbbbbbb: Waiting\n' +
        '\x1b[2A\x1b[2Kaaaaaaaaaaaa: Pull complete\n\x1b[2Kbbbbbbbbbbbb: Waiting\n' +
        'Digest: sha256:x\n',
    );
  });
});
