/** ps rows as docker prints them: STATUS and CREATED in go-units' words, the command cut at 20 characters; filters. */
import { describe, expect, it } from 'vitest';
import { containerFilter, containerRow } from '../../src/cli/ps.js';
import type { ContainerState } from '../../src/runtime/containers.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

const base: ContainerState = {
  id: 'a'.repeat(64), name: 'c', image: 'busybox', imageId: 'sha256:' + 'b'.repeat(64), layers: [], args: ['sh', '-c', 'echo hello; sleep 100'],
  created: ago(120_000), status: 'created', mounter: 'layerfs',
};

describe('containerRow', () => {
  it.each([
    [{ status: 'created' }, 'Created', 'created'],
    [{ status: 'running', startedAt: ago(3000) }, 'Up 3 seconds', 'running'],
    [{ status: 'exited', exitCode: 0, finished: ago(2000) }, 'Exited (0) 2 seconds ago', 'exited'],
    [{ status: 'failed', exitCode: 125, finished: ago(90_000) }, 'Exited (125) About a minute ago', 'exited'],
    [{ status: 'restarting', exitCode: 1, finished: ago(1000) }, 'Restarting (1) 1 second ago', 'restarting'],
  ] as Array<[Partial<ContainerState>, string, string]>)('%o → %s', (over, status, state) => {
    const row = containerRow({ ...base, ...over }, true, NOW);
    expect(row).toMatchObject({ ID: 'aaaaaaaaaaaa', Status: status, State: state, RunningFor: '2 minutes ago', Command: '"sh -c echo hello; s…"', Ports: '', Names: 'c' });
    expect(row.CreatedAt).toBe('2026-01-01 11:58:00 +0000 UTC');
  });

  it('--no-trunc keeps the full id and command', () => {
    expect(containerRow(base, false, NOW)).toMatchObject({ ID: base.id, Command: '"sh -c echo hello; sleep 100"' });
  });
});

describe('containerFilter', () => {
  const cs: ContainerState[] = [
    { ...base, name: 'web1', status: 'running' },
    { ...base, id: 'c'.repeat(64), name: 'db', image: 'redis:7', imageId: 'sha256:' + 'd'.repeat(64), status: 'exited' },
  ];
  it.each([
    [['status=running'], ['web1']], [['status=exited'], ['db']], [['status=running', 'status=exited'], ['web1', 'db']],
    [['name=web'], ['web1']], [['ancestor=busybox'], ['web1']], [['ancestor=busybox:latest'], ['web1']], [['ancestor=dddd'], ['db']],
    [['ancestor=redis:7', 'status=running'], []], [['id=ccc'], ['db']],
  ])('%o → %o', (filters, names) => expect(cs.filter(containerFilter(filters)).map((c) => c.name)).toEqual(names));
});
