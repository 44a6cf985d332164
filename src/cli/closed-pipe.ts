/**
 * `layerfs images | head -1`: a reader that went away ends us quietly, as
 * SIGPIPE ends docker (a shell sees 141), not with an unhandled 'error' stack.
 * A foreground run takes this over: it must end its container before we go.
 */
let ownedByRun = false;

export const SIGPIPE_EXIT = 128 + 13;

export function quietOnClosedPipe(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (!ownedByRun) process.exit(SIGPIPE_EXIT);
  });
}

/** From now on a closed stdout is the caller's to handle (it exits with SIGPIPE_EXIT itself). */
export function handOverClosedPipe(): void {
  ownedByRun = true;
}
