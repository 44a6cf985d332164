/**
 * Scenarios run both on kernel overlayfs and on layerfs, as data. Each names
 * the lower layers (top first), the upper dir, and a shell script run inside
 * the mount; the merged tree, the upper dir, the script's exit code and its
 * output must come out the same on both.
 */
import type { TreeSpec } from '../helpers/tree.js';

export interface Scenario {
  name: string;
  lower: TreeSpec[];
  upper?: TreeSpec;
  script: string;
  /** Run the script as this uid (gid the same, no groups). */
  uid?: number;
  /** Mount without an upper dir (read-only). */
  readonly?: boolean;
  /** Mount both sides with metacopy=on (the kernel also needs redirect_dir=on). */
  metacopy?: boolean;
}

const base: TreeSpec = {
  'etc/': { type: 'dir', mode: 0o755 },
  'etc/hosts': { type: 'file', content: '127.0.0.1 localhost\n', mode: 0o644 },
  'etc/shadow': { type: 'file', content: 'root:*:1::::::\n', mode: 0o640, gid: 42 },
  'bin/tool': { type: 'file', content: '#!/bin/sh\necho tool\n', mode: 0o755, xattrs: { 'user.origin': 'base' } },
  'data/a.txt': 'alpha\n',
  'data/b.txt': 'bravo\n',
  'data/sub/deep/c.txt': 'charlie\n',
  'link-to-hosts': { type: 'symlink', target: 'etc/hosts' },
  'shared/': { type: 'dir', mode: 0o1777 },
  'group-dir/': { type: 'dir', mode: 0o2775, gid: 100 },
  'hard1': 'linked\n',
  'hard2': { type: 'hardlink', to: 'hard1' },
  'fifo': { type: 'fifo' },
  'nulldev': { type: 'chr', major: 1, minor: 3, mode: 0o666 },
  // cap_net_raw+ep as a v2 vfs_cap_data blob
  'bin/ping': { type: 'file', content: 'ping\n', mode: 0o755, xattrs: { 'security.capability': '0x0100000200200000000000000000000000000000' } },
  'bin/suid': { type: 'file', content: 'suid\n', mode: 0o4755 },
  'srv/mixed/lower-only': 'lower\n',
  'srv/locked/': { type: 'dir', mode: 0o700 },
  'srv/locked/secret': 'secret\n',
};

const top: TreeSpec = {
  'data/a.txt': 'alpha, changed in the top layer\n',
  'data/.wh.b.txt': '',
  'data/new-in-top.txt': 'top\n',
  'etc/removed-by-char': { type: 'whiteout' },
  'opaque-x/': { type: 'dir', opaque: true },
  'opaque-x/only-top': 'top\n',
  'opaque-wh/.wh..wh..opq': '',
  'opaque-wh/only-top': 'top\n',
};

const bottom: TreeSpec = {
  ...base,
  'etc/removed-by-char': 'should be hidden\n',
  'opaque-x/hidden': 'hidden\n',
  'opaque-wh/hidden': 'hidden\n',
};

const two = [top, bottom];

export const scenarios: Scenario[] = [
  { name: 'reads through the layers', lower: two, script: 'cat data/a.txt data/sub/deep/c.txt link-to-hosts; ls -a data etc opaque-x opaque-wh' },
  { name: 'read-only mount refuses writes', lower: two, readonly: true, script: 'touch x; echo $?; rm data/a.txt; echo $?; ls' },
  { name: 'append to a lower file copies it up', lower: two, script: 'echo more >> data/sub/deep/c.txt; cat data/sub/deep/c.txt' },
  { name: 'chmod, chown, touch -d, setfattr copy up metadata', lower: two, script: "chmod 600 etc/hosts && chown 7:8 data/a.txt && touch -d '2020-01-02 03:04:05.987654321' bin/tool && setfattr -n user.k -v v etc/shadow && touch -h -d '2019-01-01 00:00:00.5' link-to-hosts" },
  { name: 'touch -a keeps mtime and touch -m keeps atime', lower: two, script: "touch -a -d '2011-01-01 00:00:00.25' data/a.txt && touch -m -d '2012-01-01 00:00:00.75' etc/hosts && stat -c '%x %y' data/a.txt etc/hosts" },
  { name: 'rm of a lower file leaves a char 0:0 whiteout', lower: two, script: 'rm data/a.txt hard1 fifo nulldev link-to-hosts && ls -a data' },
  { name: 'rm -rf a lower dir, then recreate it: opaque', lower: two, script: 'rm -rf data && mkdir data && echo x > data/new && ls -a data' },
  { name: 'recreated nested opaque dirs hide lower entries (fuse-overlayfs #478)', lower: two, script: 'rm -rf data && mkdir -p data/sub/deep && ls -a data/sub data/sub/deep' },
  { name: 'a symlink over a deleted name clears the whiteout (fuse-overlayfs #279)', lower: two, script: 'rm data/a.txt && ln -s b data/a.txt && ls -l data | cut -c1,60- | sort' },
  { name: 'rename a lower file over another, across layers', lower: two, script: 'mv data/a.txt data/sub/deep/c.txt && mv etc/hosts etc/hosts2 && cat data/sub/deep/c.txt && ls data etc' },
  { name: 'rename a lower dir: EXDEV, mv copies and deletes', lower: two, script: 'mv data data2 && ls -R data2 && ls -a' },
  { name: 'rename an upper-only dir over a deleted lower dir', lower: two, script: 'mkdir fresh && echo f > fresh/f && rm -rf data && mv fresh data && ls -a data' },
  { name: 'rmdir of a non-empty merged dir fails, of an emptied one works', lower: two, script: 'rmdir data/sub; echo $?; rm data/sub/deep/c.txt && rmdir data/sub/deep && rmdir data/sub && ls -a data' },
  { name: 'hard link, symlink, fifo and device through the mount', lower: two, script: 'ln data/a.txt data/a-link && ln -s ../etc data/etc-link && mkfifo data/pipe && mknod data/zero c 1 5 && ls -li data | wc -l && stat -c %h data/a-link' },
  { name: 'truncate a lower file', lower: two, script: 'truncate -s 3 data/a.txt && truncate -s 100000 data/sub/deep/c.txt && wc -c data/a.txt data/sub/deep/c.txt' },
  { name: 'a new file belongs to the caller', lower: two, uid: 65534, script: 'echo mine > shared/mine && mkdir shared/d && ls -ln shared | cut -c1-25' },
  { name: 'permissions are checked for other users', lower: two, uid: 65534, script: 'echo no >> etc/hosts; echo $?; cat etc/shadow; echo $?; rm data/a.txt; echo $?' },
  { name: 'a setgid dir hands down its group', lower: two, script: 'touch group-dir/f && mkdir group-dir/d && stat -c "%n %g %A" group-dir/f group-dir/d' },
  { name: 'xattrs: list, get, remove on lower files', lower: two, script: 'getfattr -d bin/tool && setfattr -x user.origin bin/tool && getfattr -d bin/tool; echo done' },
  { name: 'big file written and read back', lower: two, script: 'seq 1 400000 > big && cp big big2 && cmp big big2 && wc -c big2' },
  { name: 'a file in a deep lower dir copies its parents up, keeping their times', lower: two, script: 'echo new > data/sub/deep/new && chmod 750 data/sub && ls -la data/sub/deep | wc -l' },
  { name: 'copy-up keeps security.capability and the setuid bit', lower: two, script: 'touch -d "2015-05-05 05:05:05" bin/ping bin/suid && getfattr -n security.capability -e hex bin/ping && stat -c %A bin/suid' },
  { name: 'chown of a setuid lower file clears the bit, as the kernel does', lower: two, script: 'chown 1:1 bin/suid && stat -c %A bin/suid' },
  // FUSE turns chown(f, -1, -1) into a SETATTR that names no attribute (pjdfstest chown/00.t).
  {
    name: 'chown(-1, -1) copies up, touches the ctime and drops a capability, as the kernel does',
    lower: two,
    script: `echo new > fresh && for f in fresh data/a.txt data/sub bin/ping; do c=$(stat -c %z $f); sleep 0.02; perl -e 'chown(-1, -1, $ARGV[0]) or die "$!"' $f && [ "$(stat -c %z $f)" != "$c" ] && echo "$f: ctime changed"; done; perl -MPOSIX -e 'POSIX::lchown(-1, -1, "link-to-hosts") or die "$!"' && getfattr -d -m - bin/ping`,
  },
  { name: 'truncating open (O_TRUNC) of a lower file', lower: two, script: ': > data/a.txt && echo fresh > data/b.txt 2>&1; wc -c data/a.txt; ls data' },
  { name: 'delete, then create the same name again', lower: two, script: 'rm data/a.txt && echo again > data/a.txt && rm -r data/sub && mkdir data/sub && ls -a data/sub && cat data/a.txt' },
  { name: 'rm -rf a dir holding upper and lower entries', lower: two, script: 'echo up > srv/mixed/upper-only && rm -rf srv/mixed && ls -a srv' },
  { name: 'rename an upper file onto a deleted lower name, and into a lower-only dir', lower: two, script: 'echo u > u1 && rm data/a.txt && mv u1 data/a.txt && echo v > v1 && mv v1 data/sub/deep/ && ls data data/sub/deep' },
  { name: 'dangling and relative symlinks', lower: two, script: 'ln -s /nowhere dangling && ln -s ../etc/hosts data/rel && readlink dangling data/rel && cat data/rel' },
  { name: 'other users: no write into a root dir, no entry into a 0700 dir', lower: two, uid: 65534, script: 'touch etc/x; echo $?; ls srv/locked; echo $?; cat srv/locked/secret; echo $?' },
  { name: 'chmod and chown of lower directories', lower: two, script: 'chmod 711 data && chown 5:6 data/sub && mkdir -m 1777 data/tmp && stat -c "%n %a %u %g" data data/sub data/tmp' },
  { name: 'rename across directories of a file that exists only in a lower layer', lower: two, script: 'mv data/sub/deep/c.txt etc/ && mv link-to-hosts data/ && ls etc data && cat etc/c.txt' },
  { name: 'parallel appends to one lower file copy it up once', lower: two, script: 'for i in 1 2 3 4 5 6 7 8; do (echo line$i >> data/sub/deep/c.txt) & done; wait; sort -o data/sub/deep/c.txt data/sub/deep/c.txt; cat data/sub/deep/c.txt' },
  { name: 'upper dir with kernel whiteouts and opaque dirs from an earlier mount', lower: two, upper: { 'data/a.txt': { type: 'whiteout' }, 'etc/': { type: 'dir', opaque: true }, 'etc/only': 'upper\n' }, script: 'ls -a data etc' },
];

/** Metadata-only copy-up: the upper dirs must agree, trusted.overlay.metacopy included. */
export const metacopyScenarios: Scenario[] = [
  { name: 'metacopy: chmod -R of a lower tree, then read', lower: two, metacopy: true, script: 'chmod -R go-rwx data && stat -c "%n %a %s" data/a.txt data/sub/deep/c.txt && cat data/a.txt data/sub/deep/c.txt' },
  { name: 'metacopy: chown -R of a lower tree, setuid and capability kept as the kernel does', lower: two, metacopy: true, script: 'chown -R 7:8 data bin && stat -c "%n %u %g %A" bin/suid data/a.txt && getfattr -n security.capability -e hex bin/ping && cat bin/tool' },
  { name: 'metacopy: touch -d opens for writing (full copy), touch -h -d does not', lower: two, metacopy: true, script: "touch -d '2020-01-02 03:04:05.5' etc/hosts && touch -h -d '2019-01-01 00:00:00.25' data/b.txt data/a.txt && stat -c '%n %y' etc/hosts data/a.txt && cat data/a.txt" },
  { name: 'metacopy: setfattr on lower files, then getfattr and read', lower: two, metacopy: true, script: 'setfattr -n user.k -v v etc/hosts bin/tool && getfattr -d etc/hosts bin/tool && cat etc/hosts' },
  { name: 'metacopy: chmod, then append completes the copy-up', lower: two, metacopy: true, script: 'chmod 600 data/a.txt data/sub/deep/c.txt && echo more >> data/sub/deep/c.txt && stat -c "%n %a %s" data/sub/deep/c.txt data/a.txt && cat data/sub/deep/c.txt data/a.txt' },
  { name: 'metacopy: chmod, then truncate and rm', lower: two, metacopy: true, script: 'chmod 640 etc/hosts etc/shadow data/a.txt hard1 && truncate -s 4 etc/hosts && rm etc/shadow && cat etc/hosts hard1 && ls etc && stat -c "%n %a %s %h" data/a.txt hard1 hard2 && cat < data/a.txt' },
];
