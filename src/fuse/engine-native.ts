/**
 * The native half of layerfs's FUSE engine (native/engine.c), loaded once:
 * reader threads on /dev/fuse, the request queue the JS thread takes from,
 * replies, passthrough backing files, mount(2) and fusermount3.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeEngine {
  start(fd: number, threads: number, wake: () => void): object;
  take(session: object, meta: Int32Array): Buffer | null;
  setAwake(session: object, awake: boolean): number;
  finish(session: object): number;
  noCaps(session: object, nodeid: number): number;
  reply(devfd: number, buf: Buffer, len: number): number;
  backingOpen(devfd: number, fd: number): number;
  backingClose(devfd: number, id: number): number;
  mount(source: string, target: string, type: string, flags: number, data: string): number;
  umount(target: string, flags: number): number;
  fusermount(program: string, mountpoint: string, options: string): number;
}

export const native = createRequire(import.meta.url)(
  join(dirname(fileURLToPath(import.meta.url)), '../../native/build/Release/layerfs_engine.node'),
) as NativeEngine;

