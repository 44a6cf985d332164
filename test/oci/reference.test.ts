import { describe, expect, it } from 'vitest';
import { isRef, normalizeRef, parseRef, Reference } from '../../src/oci/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('Reference.parse', () => {
  it.each([
    { input: 'hello-world', registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/hello-world', tag: 'latest', digest: undefined, str: 'hello-world:latest' },
    { input: 'ubuntu:14.04', registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/ubuntu', tag: '14.04', digest: undefined, str: 'ubuntu:14.04' },
    { input: 'docker.io/library/busybox', registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/busybox', tag: 'latest', digest: undefined, str: 'busybox:latest' },
    { input: 'index.docker.io/user/app:1', registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'user/app', tag: '1', digest: undefined, str: 'user/app:1' },
    { input: 'user/app', registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'user/app', tag: 'latest', digest: undefined, str: 'user/app:latest' },
    { input: 'localhost:5000/name:tag', registry: 'localhost:5000', apiHost: 'localhost:5000', repository: 'name', tag: 'tag', digest: undefined, str: 'localhost:5000/name:tag' },
    { input: 'localhost/name', registry: 'localhost', apiHost: 'localhost', repository: 'name', tag: 'latest', digest: undefined, str: 'localhost/name:latest' },
    { input: '127.0.0.1:5000/a/b/c', registry: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', repository: 'a/b/c', tag: 'latest', digest: undefined, str: '127.0.0.1:5000/a/b/c:latest' },
    { input: `quay.io/x/y@${D}`, registry: 'quay.io', apiHost: 'quay.io', repository: 'x/y', tag: undefined, digest: D, str: `quay.io/x/y@${D}` },
    { input: `r.example:443/x:v2@${D}`, registry: 'r.example:443', apiHost: 'r.example:443', repository: 'x', tag: 'v2', digest: D, str: `r.example:443/x:v2@${D}` },
    { input: 'my_repo/sub-name.x__y', registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'my_repo/sub-name.x__y', tag: 'latest', digest: undefined, str: 'my_repo/sub-name.x__y:latest' },
  ])('$input', ({ input, registry, apiHost, repository, tag, digest, str }) => {
    const r = Reference.parse(input);
    expect({ registry: r.registry, apiHost: r.apiHost, repository: r.repository, tag: r.tag, digest: r.digest, str: r.toString() }).toEqual({ registry, apiHost, repository, tag, digest, str });
    expect(r.identifier).toBe(digest ?? tag);
  });

  it.each([
    { input: '', why: /repository names/ },
    { input: 'UPPER/case', why: /repository names/ },
    { input: 'a//b', why: /repository names/ },
    { input: 'name:', why: /not a valid tag/ },
    { input: 'name:-bad', why: /not a valid tag/ },
    { input: 'name@sha256:abc', why: /not a sha256 digest/ },
    { input: 'name@md5:0123', why: /not a sha256 digest/ },
    { input: 'bad_host:99/x', why: /repository names|not a valid registry host/ },
  ])('rejects $input', ({ input, why }) => {
    expect(() => Reference.parse(input)).toThrow(why);
  });
});

describe('Reference.parse with podman\'s rule for unqualified names', () => {
  it.each([
    { input: 'app', str: 'localhost/app:latest', registry: 'localhost', repository: 'app' },
    { input: 'user/app:1', str: 'localhost/user/app:1', registry: 'localhost', repository: 'user/app' },
    { input: 'docker.io/library/busybox', str: 'busybox:latest', registry: 'docker.io', repository: 'library/busybox' },
    { input: 'quay.io/x/y:2', str: 'quay.io/x/y:2', registry: 'quay.io', repository: 'x/y' },
  ])('$input → $str', ({ input, str, registry, repository }) => {
    const r = Reference.parse(input, { unqualified: 'localhost' });
    expect({ str: r.toString(), registry: r.registry, repository: r.repository }).toEqual({ str, registry, repository });
  });
});

describe('the store\'s tags: normalizeRef, parseRef, isRef', () => {
  it.each([
    ['busybox', 'busybox:latest'],
    ['docker.io/library/busybox:1', 'busybox:1'],
    ['index.docker.io/library/busybox', 'busybox:latest'],
    ['docker.io/user/app:v1', 'user/app:v1'],
    ['localhost:5000/hello-world', 'localhost:5000/hello-world:latest'],
    ['a0251ac85242', 'a0251ac85242:latest'],
  ])('%s → %s', (input, out) => {
    expect(normalizeRef(input)).toBe(out);
    expect(isRef(input)).toBe(true);
  });

  it.each(['UPPER', 'a//b', 'x:', `x@sha256:${'a'.repeat(64)}`])('%s is not a tag reference', (input) => {
    expect(isRef(input)).toBe(false);
    expect(() => parseRef(input)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
