/**
 * The engine's node table: one kernel inode (nodeid) per file, not per path.
 *
 * A node lives from the first lookup that returns it until the kernel forgets
 * it (nlookup back to 0). It is reached through its links (parent node, name);
 * a file with hard links has several, an unlinked file that is still open has
 * none. Its path, which the overlay works on, is its first link's parent's
 * path plus the name, cached until a rename or unlink may have changed it.
 *
 * Hard links join on a key the overlay gives (an upper file's device and
 * inode). A key is kept for files that have other names, and for as long as
 * one of them is open: after `unlink b` of the open `b`, the kernel's inode of
 * `a` is still the fd's. Lower-layer hard links stay separate nodes, as kernel
 * overlayfs keeps them (index=off), because a copy-up breaks them apart.
 *
 * The reported inode number is the node's first one (0: the current stat's):
 * it survives copy-up, as the kernel's overlayfs keeps the lower inode number
 * (and the overlay shows a copy's origin's number when a node is made again).
 */
import { ST, S_IFDIR, S_IFMT, type StatBuf } from '../sys.js';

export interface Link { parent: Node; name: string }

export class Node {
  nlookup = 0;
  links: Link[] = [];
  /** Names looked up in this directory that are still linked. */
  children: Map<string, Node> | undefined;
  /** Open fds of this file and whether each can write (for an unlinked file). */
  fds: Map<number, boolean> | undefined;
  key: string | undefined;
  /** A directory's last attributes, shown (with no links) once it is removed while in use. */
  lastStat: StatBuf | undefined;
  /** The last path this node had, for the overlay's sake once it is unlinked. */
  lastPath = '/';
  pathGen = -1;

  constructor(readonly id: number, readonly ino: number, readonly type: number) {}

  get isDir(): boolean {
    return this.type === 0o040000;
  }
}

export class NodeTable {
  readonly root: Node;
  private readonly byId = new Map<number, Node>();
  private readonly byKey = new Map<string, Node>();
  private nextId = 2;
  /** Bumped whenever a cached path may have changed. */
  private gen = 0;

  constructor(rootStat: StatBuf) {
    this.root = new Node(1, rootStat[ST.ino]!, 0o040000);
    this.root.nlookup = 1;
    this.byId.set(1, this.root);
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: number): Node | undefined {
    return this.byId.get(id);
  }

  child(parent: Node, name: string): Node | undefined {
    return parent.children?.get(name);
  }

  /** The node's path in the overlay, or undefined when no name leads to it. */
  path(node: Node): string | undefined {
    if (node === this.root) return '/';
    const link = node.links[0];
    if (link === undefined) return undefined;
    if (node.pathGen === this.gen) return node.lastPath;
    const parent = this.path(link.parent);
    if (parent === undefined) return undefined;
    node.lastPath = parent === '/' ? `/${link.name}` : `${parent}/${link.name}`;
    node.pathGen = this.gen;
    return node.lastPath;
  }

  /** Joins a child path without caching it. */
  childPath(parent: Node, name: string): string | undefined {
    const p = this.path(parent);
    return p === undefined ? undefined : p === '/' ? `/${name}` : `${p}/${name}`;
  }

  /**
   * The node `parent/name` resolved to, found or made, without counting a
   * lookup. `key`: the overlay's identity for a file that may have other names.
   */
  resolve(parent: Node, name: string, st: StatBuf, key: string | undefined): Node {
    const type = st[ST.mode]! & S_IFMT;
    let node = parent.children?.get(name);
    if (node !== undefined && (node.type !== type || (key !== undefined && node.key !== undefined && node.key !== key))) {
      // Changed behind the mount's back: the old node keeps its other names.
      this.detach(parent, name);
      node = undefined;
    }
    if (node === undefined && key !== undefined) {
      node = this.byKey.get(key);
      if (node !== undefined) this.attach(node, parent, name);
    }
    if (node === undefined) {
      // The inode number is kept through copy-up, except a lower hard link's: the kernel shows a broken-off
      // copy with its own. An upper file's (keyed) is the one the overlay shows, its origin's or its own.
      const keep = type === S_IFDIR || st[ST.nlink]! < 2 || key !== undefined;
      node = new Node(this.nextId++, keep ? st[ST.ino]! : 0, type);
      this.byId.set(node.id, node);
      this.attach(node, parent, name);
    }
    if (key !== undefined && node.key !== key && st[ST.nlink]! >= 2) this.setKey(node, key);
    return node;
  }

  /** A lookup the kernel will count: resolve and take a reference. */
  lookedUp(parent: Node, name: string, st: StatBuf, key: string | undefined): Node {
    const node = this.resolve(parent, name, st, key);
    node.nlookup++;
    return node;
  }

  /** `node` got another name (link(2)). */
  linked(node: Node, parent: Node, name: string, key: string | undefined): void {
    this.detach(parent, name);
    this.attach(node, parent, name);
    if (key !== undefined) this.setKey(node, key);
    node.nlookup++;
  }

  /** `parent/name` is gone (unlink, rmdir, or replaced by a rename). */
  detach(parent: Node, name: string): void {
    const node = parent.children?.get(name);
    if (node === undefined) return;
    parent.children!.delete(name);
    const i = node.links.findIndex((l) => l.parent === parent && l.name === name);
    if (i >= 0) {
      this.path(node); // keep lastPath for an open, unlinked file
      node.links.splice(i, 1);
      // Paths below a moved directory, or of a file known by another name, change.
      if (i === 0 && (node.isDir || node.links.length > 0)) this.gen++;
    }
    if (node.links.length === 0 && !node.fds?.size) this.dropKey(node);
  }

  /** An fd of `node` was closed. */
  released(node: Node, fd: number): void {
    node.fds?.delete(fd);
    if (node.links.length === 0 && !node.fds?.size) this.dropKey(node);
  }

  renamed(parent: Node, name: string, newParent: Node, newName: string): void {
    const node = parent.children?.get(name);
    this.detach(newParent, newName);
    if (node === undefined) return;
    // Moved, not gone: its identity (and so its other names' way to it) stays.
    const key = node.key;
    this.detach(parent, name);
    this.attach(node, newParent, newName);
    if (key !== undefined) this.setKey(node, key);
  }

  forget(node: Node, count: number): void {
    node.nlookup -= count;
    if (node.nlookup > 0 || node === this.root) return;
    for (const l of [...node.links]) {
      if (l.parent.children?.get(l.name) === node) this.detach(l.parent, l.name);
    }
    this.dropKey(node);
    this.byId.delete(node.id);
  }

  private attach(node: Node, parent: Node, name: string): void {
    (parent.children ??= new Map()).set(name, node);
    if (node.links.length === 0) node.pathGen = -1;
    node.links.push({ parent, name });
  }

  /** With no name and no open fd the inode may be freed and its number reused. */
  private dropKey(node: Node): void {
    if (node.key === undefined) return;
    if (this.byKey.get(node.key) === node) this.byKey.delete(node.key);
    node.key = undefined;
  }

  private setKey(node: Node, key: string): void {
    if (node.key !== undefined && this.byKey.get(node.key) === node) this.byKey.delete(node.key);
    node.key = key;
    this.byKey.set(key, node);
  }
}
