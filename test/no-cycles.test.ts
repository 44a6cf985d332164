/**
 * `src/` has no import cycle, type-only imports included (madge on the
 * TypeScript sources). A regression test for store.ts <-> staging.ts.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

async function madge(...args: string[]): Promise<unknown> {
  const { stdout } = await run(
    process.execPath,
    ['--require', './test/helpers/madge-typescript.cjs', 'node_modules/madge/bin/cli.js', '--json', '--extensions', 'ts', '--ts-config', 'tsconfig.json', ...args, 'src'],
    { cwd: root, maxBuffer: 16 << 20 },
  );
  return JSON.parse(stdout);
}

describe('src/ imports', () => {
  it('madge resolves our .js specifiers to the .ts sources (so it sees every edge)', async () => {
    const graph = (await madge()) as Record<string, string[]>;
    expect(Object.keys(graph).length).toBeGreaterThan(80);
    expect(graph['store/store.ts']).toContain('store/staging.ts');
    expect(graph['registry/pull.ts']).toContain('oci/reference.ts');
  }, 60_000);

  it('have no cycle', async () => {
    expect(await madge('--circular')).toEqual([]);
  }, 60_000);
});
