/**
 * What pull and push report as they go, as data: the CLI turns these into
 * docker's per-layer lines (src/cli/transfer-progress.ts); a library user may
 * log them, or ignore them. Layers are named by their blob digest.
 */
export type LayerState =
  /** pull: the target has it already. */
  | 'exists'
  /** pull: queued behind other downloads. */
  | 'waiting'
  /** pull: a download broke and resumes at `offset`. */
  | 'retrying'
  /** pull: downloaded and verified. */
  | 'downloaded'
  /** pull: being unpacked into the target. */
  | 'extracting'
  /** pull: in the target, committed. */
  | 'pulled'
  /** push: about to be checked and uploaded. */
  | 'preparing'
  /** push: the registry had it. */
  | 'mounted'
  /** push: uploaded. */
  | 'pushed';

export type TransferEvent =
  | { type: 'layer'; digest: string; state: LayerState; offset?: number }
  | { type: 'bytes'; digest: string; direction: 'down' | 'up'; done: number; total: number }
  /** push: the repository being pushed to, before any layer. */
  | { type: 'push-start'; repository: string }
  /** push: the manifest is up under `tag` (or its digest). */
  | { type: 'push-done'; tag: string; digest: string; size: number }
  /** pull: done; `digest` is what the reference names. */
  | { type: 'pull-done'; ref: string; digest: string; upToDate: boolean };

export type ProgressListener = (e: TransferEvent) => void;
