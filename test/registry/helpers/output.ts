import { LayerProgress } from '../../../src/registry/progress.js';

/** A non-TTY progress sink that keeps what was printed. */
export function captured(): { progress: LayerProgress; text: () => string; lines: () => string[] } {
  let text = '';
  const progress = new LayerProgress({ write: (s: string) => (text += s), isTTY: false });
  return { progress, text: () => text, lines: () => text.split('\n').filter((l) => l !== '') };
}
