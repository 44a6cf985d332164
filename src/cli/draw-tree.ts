/** `images --tree`: the store's layer tree drawn with box characters. */
import { shortId } from '../oci/digest.js';
import type { TreeNode } from '../store/layer-tree.js';
import { humanSize } from './format.js';

/** Draws the tree with box characters, one node a line, like `docker images --tree` did. */
export function drawTree(roots: TreeNode[], size: (n: number) => string = humanSize): string {
  const lines: string[] = [];
  const walk = (nodes: TreeNode[], indent: string) => {
    nodes.forEach((n, i) => {
      const last = i === nodes.length - 1;
      const tags = n.images.flatMap((im) => im.repoTags);
      const untagged = n.images.filter((im) => im.repoTags.length === 0).map((im) => shortId(im.id));
      let label = `${shortId(n.chainId)} Virtual Size: ${size(n.virtualSize)}`;
      if (tags.length) label += ` Tags: ${tags.join(', ')}`;
      if (untagged.length) label += ` Image: ${untagged.join(', ')}`;
      lines.push(`${indent}${last ? '└─' : '├─'}${label}`);
      walk(n.children, indent + (last ? '  ' : '│ '));
    });
  };
  walk(roots, '');
  return lines.length ? lines.join('\n') + '\n' : '';
}
