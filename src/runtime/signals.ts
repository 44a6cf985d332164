/** Signal names as users and image configs write them: `SIGTERM`, `TERM`, `15` (STOPSIGNAL, kill -s). */
import { constants } from 'node:os';
import { UsageError } from '../errors.js';

export function parseSignal(sig: string): NodeJS.Signals {
  const signals = constants.signals as Record<string, number>;
  const upper = sig.toUpperCase();
  const name = /^\d+$/.test(sig) ? Object.keys(signals).find((k) => signals[k] === Number(sig)) : upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (name === undefined || signals[name] === undefined) throw new UsageError(`invalid signal: ${sig}`);
  return name as NodeJS.Signals;
}
