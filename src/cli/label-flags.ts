/** `--label K=V` of build and run (a bare `K` is an empty label, as docker's). */
import { UsageError } from '../errors.js';

export function parseLabels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    if (eq === 0) throw new UsageError(`invalid --label '${l}': it needs a NAME`);
    if (eq < 0) out[l] = '';
    else out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}
