import type { ProgressListener } from '../../../src/registry/events.js';
import { LayerProgress } from '../../../src/cli/transfer-progress.js';

/** A non-TTY progress sink that keeps what was printed. */
export function captured(): { progress: ProgressListener; text: () => string; lines: () => string[] } {
  let text = '';
  const progress = new LayerProgress({ write: (s: string) => (text += s), isTTY: false }).listener();
  return { progress, text: () => text, lines: () => text.split('\n').filter((l) => l !== '') };
}
