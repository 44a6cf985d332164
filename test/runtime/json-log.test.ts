/** The json-file log: docker's line shape, lines cut at newlines, rotation by max-size/max-file. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonFileLog, logFiles, nowRfc3339Nano, parseLogOpts, readLog } from '../../src/runtime/json-log.js';

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

describe('JsonFileLog', () => {
  it('writes one object a line, split at newlines, a last partial line on close', () => {
    dir = mkdtempSync(join(tmpdir(), 'layerfs-log-'));
    const log = new JsonFileLog(join(dir, 'c.log'), { maxFile: 1 });
    log.add('stdout', 'a\nb');
    log.add('stderr', 'e\n');
    log.add('stdout', 'c\nd');
    log.close();
    const lines = readFileSync(join(dir, 'c.log'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.log, l.stream])).toEqual([['a\n', 'stdout'], ['e\n', 'stderr'], ['bc\n', 'stdout'], ['d', 'stdout']]);
    expect(Object.keys(lines[0]!)).toEqual(['log', 'stream', 'time']);
  });

  it.each([
    { maxSize: 200, maxFile: 1, files: 1 },
    { maxSize: 200, maxFile: 3, files: 3 },
  ])('max-size $maxSize, max-file $maxFile: $files file(s), each under the cap, the newest lines kept', ({ maxSize, maxFile, files }) => {
    dir = mkdtempSync(join(tmpdir(), 'layerfs-log-'));
    const path = join(dir, 'c.log');
    const log = new JsonFileLog(path, { maxSize, maxFile });
    for (let i = 0; i < 40; i++) log.add('stdout', `line ${i}\n`);
    log.close();
    const all = logFiles(path, { maxSize, maxFile });
    expect(all).toHaveLength(files);
    for (const f of all) expect(readFileSync(f).length).toBeLessThanOrEqual(maxSize);
    const kept = readLog(path, { maxSize, maxFile }).map((e) => e.log);
    expect(kept.at(-1)).toBe('line 39\n');
    expect(kept).toEqual(kept.map((_, i) => `line ${40 - kept.length + i}\n`));
  });
});

describe('parseLogOpts', () => {
  it.each([
    [[], { maxFile: 1 }],
    [['max-size=10k'], { maxSize: 10240, maxFile: 1 }],
    [['max-size=2m', 'max-file=3'], { maxSize: 2 * 1024 * 1024, maxFile: 3 }],
  ])('%o', (opts, config) => expect(parseLogOpts(opts)).toEqual(config));
  it.each([['max-size=ten'], ['max-file=3'], ['mode=non-blocking'], ['max-size=1m', 'max-file=0']])('%o is refused', (...opts) => {
    expect(() => parseLogOpts(opts)).toThrow(/--log-opt/);
  });
});

it('times are RFC 3339 with nanoseconds, no trailing zeros', () => {
  expect(nowRfc3339Nano()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
});
