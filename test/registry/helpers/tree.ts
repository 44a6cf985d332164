import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Every path under `dir` with its size, sorted: enough to see that nothing changed. */
export async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(p, r);
      } else out.push(`${r} ${(await stat(p)).size}`);
    }
  };
  await walk(dir, '');
  return out.sort();
}
