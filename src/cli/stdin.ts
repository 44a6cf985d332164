/** Reading stdin for `import -` and `load`: an empty stdin is known before anything is written. */
import { Readable } from 'node:stream';

/** stdin as a stream, or null when it is empty; waits for the first bytes (or the end). */
export async function nonEmptyStdin(): Promise<Readable | null> {
  const it = (process.stdin as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let first = await it.next();
  while (!first.done && first.value.length === 0) first = await it.next();
  if (first.done) return null;
  const head = first.value;
  return Readable.from(
    (async function* () {
      yield head;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    })(),
  );
}
