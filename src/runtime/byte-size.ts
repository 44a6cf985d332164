/** docker's RAMInBytes, for the run flags that take a size. */
import { UsageError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** `64m`, `1g`, `512k`, `1024` (bytes); binary units, any case; an error names `flag`. */
export function parseBytes(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?$/i.exec(value.trim());
  if (!m) throw new UsageError(`invalid ${flag} '${value}': expected a size such as 64m or 1g`);
  return Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}
