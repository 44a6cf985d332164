import { describe, expect, it } from 'vitest';
import { parseChallenge } from '../../src/registry/authenticator.js';

describe('parseChallenge', () => {
  it.each([
    {
      header: 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/hello-world:pull"',
      want: { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/hello-world:pull' } },
    },
    { header: 'Basic realm="layerfs-test"', want: { scheme: 'basic', params: { realm: 'layerfs-test' } } },
    { header: 'basic realm=plain', want: { scheme: 'basic', params: { realm: 'plain' } } },
    { header: 'Bearer realm="x", scope="repository:a:pull,push"', want: { scheme: 'bearer', params: { realm: 'x', scope: 'repository:a:pull,push' } } },
    { header: 'Bearer realm="with \\"quote\\""', want: { scheme: 'bearer', params: { realm: 'with "quote"' } } },
    { header: 'Negotiate', want: { scheme: 'negotiate', params: {} } },
  ])('$header', ({ header, want }) => {
    expect(parseChallenge(header)).toEqual(want);
  });

  it('returns undefined for nothing', () => {
    expect(parseChallenge('')).toBeUndefined();
  });
});
