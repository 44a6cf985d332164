/** `-u` / image User resolved against the container's own passwd and group files (data table). */
import { describe, expect, it } from 'vitest';
import { resolveUser } from '../../src/runtime/users.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\n# a comment\napp:x:1000:1001:App:/home/app:/bin/sh\nbroken line\n';
const GROUP = 'root:x:0:\nwheel:x:10:app,other\nappgrp:x:1001:\nstaff:x:50:\n';

const cases: Array<{ spec: string; passwd?: string | null; group?: string | null; expected: object | RegExp }> = [
  { spec: '', expected: { uid: 0, gid: 0, groups: [0], home: '/root' } },
  { spec: 'root', expected: { uid: 0, gid: 0, groups: [0], home: '/root' } },
  { spec: 'app', expected: { uid: 1000, gid: 1001, groups: [1001, 10], home: '/home/app' } },
  { spec: '1000', expected: { uid: 1000, gid: 1001, groups: [1001, 10], home: '/home/app' } },
  { spec: 'app:staff', expected: { uid: 1000, gid: 50, groups: [50, 10], home: '/home/app' } },
  { spec: 'app:77', expected: { uid: 1000, gid: 77, groups: [77, 10] } },
  { spec: '4242', expected: { uid: 4242, gid: 0, groups: [0], home: '/' } },
  { spec: '4242:4343', expected: { uid: 4242, gid: 4343, groups: [4343], home: '/' } },
  { spec: 'nobody', expected: /unable to find user nobody/ },
  { spec: 'app:nogroup', expected: /unable to find group nogroup/ },
  // FROM scratch: no passwd at all, root and numbers still work.
  { spec: '', passwd: null, group: null, expected: { uid: 0, gid: 0, groups: [0], home: '/' } },
  { spec: '123:45', passwd: null, group: null, expected: { uid: 123, gid: 45, groups: [45], home: '/' } },
  { spec: 'app', passwd: null, group: null, expected: /unable to find user app/ },
];

describe('resolveUser', () => {
  for (const c of cases) {
    it(`'${c.spec}'${c.passwd === null ? ' without /etc/passwd' : ''}`, () => {
      const run = () => resolveUser(c.spec, c.passwd === undefined ? PASSWD : c.passwd, c.group === undefined ? GROUP : c.group);
      if (c.expected instanceof RegExp) expect(run).toThrow(c.expected);
      else expect(run()).toMatchObject(c.expected);
    });
  }
});
