/** `run --pull missing|always|never` against a real registry on 127.0.0.1 (Debian's docker-registry). */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LAYERFS_BIN } from '../helpers/mounts.js';
import { TestRegistry } from '../registry/helpers/registry-server.js';
import { addBusybox, tempRoot, type TempRoot } from './helpers/busybox.js';

const execFileP = promisify(execFile);
let reg: TestRegistry;
let src: TempRoot;
let work: string;

async function layerfs(root: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = { ...process.env, LAYERFS_ROOT: root, LAYERFS_CONFIG: join(work, 'config.json') };
  try {
    const r = await execFileP(process.execPath, [LAYERFS_BIN, ...args], { env });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  reg = await TestRegistry.start();
  work = await mkdtemp(join(tmpdir(), 'layerfs-run-pull-'));
  await writeFile(join(work, 'config.json'), JSON.stringify({ insecureRegistries: [reg.host] }));
  src = await tempRoot();
  await addBusybox(src.store, 'busybox:test');
  expect((await layerfs(src.root, 'push', 'busybox:test', `${reg.host}/busybox:1`)).code).toBe(0);
});

afterAll(async () => {
  await reg?.stop();
  expect(await src?.cleanup()).toEqual([]);
  if (work) await rm(work, { recursive: true, force: true });
});

const rows = [
  { pull: [], code: 0, out: 'hi\n', err: /Unable to find image '.*\/busybox:1' locally/, pulled: true },
  { pull: ['--pull', 'never'], code: 125, out: '', err: /no such image: .*\/busybox:1/, pulled: false },
  { pull: ['--pull', 'always'], code: 0, out: 'hi\n', err: /^(?!Unable)/, pulled: true },
];

it.each(rows)('run $pull on an empty store → $code', async ({ pull, code, out, err, pulled }) => {
  const t = await tempRoot();
  try {
    const ref = `${reg.host}/busybox:1`;
    const r = await layerfs(t.root, 'run', '--rm', '--rootfs', 'kernel', ...pull, ref, 'echo', 'hi');
    expect(r.code, r.err).toBe(code);
    expect(r.out).toBe(out);
    expect(r.err).toMatch(err);
    expect((await layerfs(t.root, 'images', '-q')).out.trim() !== '').toBe(pulled);
  } finally {
    expect(await t.cleanup()).toEqual([]);
  }
});
