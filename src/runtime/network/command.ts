/**
 * The outside programs the network is made with: `ip` (iproute2), `nsenter`
 * and `unshare` (util-linux) and `nft` (nftables). No netlink code of our own.
 */
import { execFile } from 'node:child_process';
import { LayerfsError } from '../../errors.js';

/** Runs `file args`, feeding `input` on stdin; resolves with stdout, rejects with its stderr as the message. */
export function tool(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const why = stderr.trim().split('\n')[0] || err.message;
      reject(new LayerfsError('NETWORK', `${file} ${args.join(' ')}: ${why}`, { file, args }));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Like `tool`, for clean-up: what is already gone is no error. */
export const toolQuiet = (file: string, args: string[], input?: string) => tool(file, args, input).then(() => true, () => false);

/** `ip -batch -` on the host, or inside the network namespace at `netns`. */
export const ipBatch = (lines: string[], netns?: string) =>
  netns ? tool('nsenter', [`--net=${netns}`, 'ip', '-batch', '-'], lines.join('\n') + '\n') : tool('ip', ['-batch', '-'], lines.join('\n') + '\n');
