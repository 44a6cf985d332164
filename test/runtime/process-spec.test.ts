/** Image config + run flags → what runs, docker's merge rules (data table). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PATH, processSpec, withHome, type RunFlags } from '../../src/runtime/process-spec.js';
import type { ImageConfig } from '../../src/oci/config.js';

type Config = ImageConfig['config'];
const flags = (f: Partial<RunFlags> = {}): RunFlags => ({ command: [], hostname: 'h', ...f });
const hostEnv = { FROM_HOST: 'hv' };

const cases: Array<{ name: string; config: Config; flags: RunFlags; expected: object | RegExp }> = [
  { name: 'Cmd alone', config: { Cmd: ['/hello'] }, flags: flags(), expected: { args: ['/hello'], cwd: '/', user: '' } },
  { name: 'CMD args replace Cmd', config: { Cmd: ['sh'] }, flags: flags({ command: ['ls', '-l'] }), expected: { args: ['ls', '-l'] } },
  { name: 'Entrypoint is kept, Cmd follows', config: { Entrypoint: ['/ep', 'x'], Cmd: ['a'] }, flags: flags(), expected: { args: ['/ep', 'x', 'a'] } },
  { name: 'Entrypoint with CMD args', config: { Entrypoint: ['/ep'], Cmd: ['a'] }, flags: flags({ command: ['b'] }), expected: { args: ['/ep', 'b'] } },
  { name: 'nothing to run', config: {}, flags: flags(), expected: /no command specified/ },
  { name: 'no config at all', config: undefined, flags: flags({ command: ['x'] }), expected: { args: ['x'], env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h'] } },
  {
    name: 'Env: image, then -e overrides, -e NAME from the host, HOSTNAME and TERM',
    config: { Cmd: ['x'], Env: ['PATH=/bin', 'A=1', 'B=2'] },
    flags: flags({ env: ['B=3', 'C=4=4', 'FROM_HOST', 'NOT_ON_HOST'], tty: true }),
    expected: { env: ['PATH=/bin', 'A=1', 'B=3', 'HOSTNAME=h', 'TERM=xterm', 'C=4=4', 'FROM_HOST=hv'] },
  },
  { name: '-e NAME unset on the host removes it', config: { Cmd: ['x'], Env: ['A=1'] }, flags: flags({ env: ['A'] }), expected: { env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h'] } },
  { name: 'a bad -e', config: { Cmd: ['x'] }, flags: flags({ env: ['=v'] }), expected: /invalid environment variable/ },
  { name: 'WorkingDir', config: { Cmd: ['x'], WorkingDir: '/srv/app' }, flags: flags(), expected: { cwd: '/srv/app' } },
  { name: 'a relative WorkingDir is from /', config: { Cmd: ['x'], WorkingDir: 'app' }, flags: flags(), expected: { cwd: '/app' } },
  { name: '-w overrides', config: { Cmd: ['x'], WorkingDir: '/srv' }, flags: flags({ workdir: '/tmp' }), expected: { cwd: '/tmp' } },
  { name: '-w must be absolute', config: { Cmd: ['x'] }, flags: flags({ workdir: 'tmp' }), expected: /needs to be an absolute path/ },
  { name: 'User, and -u overrides', config: { Cmd: ['x'], User: 'app' }, flags: flags({ user: '0:0' }), expected: { user: '0:0' } },
  { name: 'image User', config: { Cmd: ['x'], User: 'app' }, flags: flags(), expected: { user: 'app' } },
];

describe('processSpec', () => {
  for (const c of cases) {
    it(c.name, () => {
      const run = () => processSpec(c.config, c.flags, hostEnv);
      if (c.expected instanceof RegExp) expect(run).toThrow(c.expected);
      else expect(run()).toMatchObject(c.expected);
    });
  }

  it('HOME comes from the user unless set', () => {
    expect(withHome(['A=1'], '/root')).toEqual(['A=1', 'HOME=/root']);
    expect(withHome(['HOME=/x'], '/root')).toEqual(['HOME=/x']);
  });
});
