/**
 * The layer tree of `images --tree` (seed 003): images that share base
 * layers share a branch. A node is a chain of layers (its chain ID, as docker
 * computes it), with the virtual size of everything up to it and the tags of
 * the images that end there. Drawn by src/cli/draw-tree.ts.
 */
import { sha256 } from '../oci/digest.js';
import type { ImageRecord } from './types.js';

export interface TreeNode {
  /** Chain ID: the diff_id of the base layer, then sha256("<parent chain> <diff_id>"). */
  chainId: string;
  diffId: string;
  /** Bytes of this layer and all below it. */
  virtualSize: number;
  /** Images whose top layer this is. */
  images: Array<{ id: string; repoTags: string[] }>;
  children: TreeNode[];
}

export function layerTree(images: ImageRecord[]): TreeNode[] {
  const roots: TreeNode[] = [];
  for (const img of [...images].sort((a, b) => (a.created ?? '').localeCompare(b.created ?? ''))) {
    let level = roots;
    let chain = '';
    let size = 0;
    let node: TreeNode | undefined;
    for (const l of img.layers) {
      chain = chain === '' ? l.diffId : sha256(`${chain} ${l.diffId}`);
      size += l.unpackedSize;
      node = level.find((n) => n.chainId === chain);
      if (!node) {
        node = { chainId: chain, diffId: l.diffId, virtualSize: size, images: [], children: [] };
        level.push(node);
      }
      level = node.children;
    }
    node?.images.push({ id: img.id, repoTags: img.repoTags });
  }
  return roots;
}
