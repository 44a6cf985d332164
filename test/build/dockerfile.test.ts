/**
 * The pure parts of `build` as tables: the Dockerfile parser and its errors,
 * variable substitution, .dockerignore patterns, and `--change`.
 */
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../src/build/dockerfile.js';
import { expand, expandWords, envLookup } from '../../src/build/words.js';
import { DockerIgnore } from '../../src/build/dockerignore.js';
import { applyChanges, applyMetadata } from '../../src/build/config-changes.js';
import { goDuration, parseGoDuration } from '../../src/build/healthcheck.js';

describe('parseDockerfile', () => {
  const rows = [
    {
      name: 'continuations, comments inside them, blank lines, lower-case keywords',
      text: 'FROM busybox\n\n# a comment\nrun echo a \\\n  # not part of it\n  && echo b\nCMD ["/bin/sh", "-c", "echo hi"]\n',
      expect: [['RUN', 'echo a   && echo b', undefined], ['CMD', '["/bin/sh", "-c", "echo hi"]', ['/bin/sh', '-c', 'echo hi']]],
    },
    {
      name: 'the escape directive',
      text: '# escape=`\nFROM busybox\nRUN dir c:\\ `\n  && echo done\n',
      expect: [['RUN', 'dir c:\\   && echo done', undefined]],
    },
    {
      name: 'a JSON form that is not JSON is the shell form',
      text: 'FROM busybox\nCMD [not json]\nENTRYPOINT ["a", 1]\n',
      expect: [['CMD', '[not json]', undefined], ['ENTRYPOINT', '["a", 1]', undefined]],
    },
    {
      name: 'flags',
      text: 'FROM busybox\nCOPY --from=build --chown=app:app --chmod=644 a b /dst/\n',
      expect: [['COPY', 'a b /dst/', undefined]],
    },
  ];
  it.each(rows)('$name', ({ text, expect: want }) => {
    const df = parseDockerfile(text);
    expect(df.stages[0]!.instructions.map((i) => [i.keyword, i.args, i.json])).toEqual(want);
  });

  it("keeps each instruction as written for Docker's Step lines", () => {
    const df = parseDockerfile('FROM --platform=linux/amd64 busybox AS b\nrun   echo a \\\n  b\ncopy --chown=1:1 x /y\n');
    expect([df.stages[0]!.from.source, ...df.stages[0]!.instructions.map((i) => i.source)]).toEqual([
      'FROM --platform=linux/amd64 busybox AS b', 'run   echo a   b', 'copy --chown=1:1 x /y',
    ]);
  });

  it('ARG before FROM, stages with names', () => {
    const df = parseDockerfile('ARG BASE=busybox\nFROM ${BASE} AS Build\nRUN true\nFROM scratch\nCOPY --from=build /x /x\n');
    expect(df.globalArgs.map((a) => a.args)).toEqual(['BASE=busybox']);
    expect(df.stages.map((s) => [s.index, s.name, s.base, s.instructions.length])).toEqual([[0, 'build', '${BASE}', 1], [1, undefined, 'scratch', 1]]);
    expect(df.stages[1]!.instructions[0]!.flags).toEqual({ from: 'build' });
  });

  const errors = [
    ['FROM busybox\nRUN true\nFOO bar\n', 'Dockerfile:3: unknown instruction: FOO'],
    ['RUN true\nFROM busybox\n', 'Dockerfile:1: RUN before FROM: only ARG may come before the first FROM'],
    ['# just a comment\n', 'Dockerfile:1: no FROM instruction'],
    ['FROM busybox as\n', 'Dockerfile:1: FROM takes an image, optionally followed by AS NAME'],
    ['FROM a AS x\nFROM b AS X\n', "Dockerfile:2: FROM: a stage named 'x' already exists"],
    ['FROM a AS 1x\n', "Dockerfile:1: FROM stage name '1x' must start with a letter and hold only letters, digits, '_', '.' and '-'"],
    ['FROM busybox\nCOPY onlyone\n', 'Dockerfile:2: COPY needs at least one source and a destination'],
    ['FROM busybox\nADD --from=x a b\n', 'Dockerfile:2: ADD does not take the flag --from'],
    ['FROM busybox\nCOPY --chown a b\n', 'Dockerfile:2: COPY --chown needs a value (--chown=VALUE)'],
    ['FROM busybox\nRUN --mount=type=cache,target=/x true\n', 'Dockerfile:2: RUN does not take the flag --mount'],
    ['FROM busybox\nENV\n', 'Dockerfile:2: ENV needs at least one KEY=VALUE'],
    ['FROM busybox\nENV A\n', "Dockerfile:2: ENV needs a value for 'A' (KEY=VALUE)"],
    ['FROM busybox\nLABEL a=b c\n', "Dockerfile:2: LABEL 'c' is not KEY=VALUE"],
    ['FROM busybox\nARG 1A=x\n', "Dockerfile:2: ARG name '1A' is not a valid variable name"],
    ['FROM busybox\nSHELL /bin/bash -c\n', 'Dockerfile:2: SHELL needs a JSON array, e.g. SHELL ["/bin/sh", "-c"]'],
    ['FROM busybox\nUSER a b\n', 'Dockerfile:2: USER takes exactly one argument'],
    ['FROM busybox\n\nRUN\n', 'Dockerfile:3: RUN needs a command'],
    ['FROM busybox\nHEALTHCHECK\n', 'Dockerfile:2: HEALTHCHECK needs CMD command or NONE'],
    ['FROM busybox\nONBUILD ONBUILD RUN true\n', "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    ['FROM busybox\nONBUILD from x\n', "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"],
    ['FROM busybox\nONBUILD COPY onlyone\n', 'Dockerfile:2: COPY needs at least one source and a destination'],
    ['FROM busybox\nHEALTHCHECK RUN true\n', 'Dockerfile:2: Unknown type "RUN" in HEALTHCHECK (try CMD)'],
    ['FROM busybox\nHEALTHCHECK NONE x\n', 'Dockerfile:2: HEALTHCHECK NONE takes no arguments'],
    ['FROM busybox\nHEALTHCHECK --interval=5 CMD true\n', 'Dockerfile:2: time: invalid duration "5"'],
    ['FROM busybox\nHEALTHCHECK --timeout=10us CMD true\n', 'Dockerfile:2: Interval "timeout" cannot be less than 1ms'],
    ['FROM busybox\nHEALTHCHECK --retries=-1 CMD true\n', 'Dockerfile:2: --retries cannot be negative (-1)'],
    ['FROM busybox\nHEALTHCHECK --every=1s CMD true\n', 'Dockerfile:2: HEALTHCHECK does not take the flag --every'],
    ['# escape=x\nFROM busybox\n', "Dockerfile:1: invalid escape character 'x': it must be \\ or `"],
  ];
  it.each(errors)('%j fails: %s', (text, message) => {
    expect(() => parseDockerfile(text)).toThrow(message);
  });
});

describe('substitution', () => {
  const env = envLookup(['A=alpha', 'EMPTY=', 'SP=a b']);
  const rows: Array<[string, string]> = [
    ['$A', 'alpha'],
    ['${A}', 'alpha'],
    ['x${A}y$A', 'xalphayalpha'],
    ['${MISSING:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${A:+set}', 'set'],
    ['${EMPTY:+set}', ''],
    ['${MISSING:-${A}}', 'alpha'],
    ["'$A'", '$A'],
    ['"$A b"', 'alpha b'],
    ['\\$A', '$A'],
    ['"\\$A"', '$A'],
    ['a\\ b', 'a b'],
    ['$', '$'],
    ['$MISSING', ''],
  ];
  it.each(rows)('%s → %s', (word, want) => {
    expect(expand(word, env)).toBe(want);
  });

  it('splits words outside quotes and drops empty unquoted ones', () => {
    expect(expandWords('a "b c" $MISSING "" $SP', env)).toEqual(['a', 'b c', '', 'a b']);
  });

  it.each([
    ['${A', "missing '}' in '${A'"],
    ['${A:?x}', "unsupported modifier ':?' in '${A:?x}'"],
    ['"open', "unterminated double quote in '\"open'"],
  ])('%s fails: %s', (word, message) => {
    expect(() => expand(word, env)).toThrow(message);
  });
});

describe('.dockerignore', () => {
  const rows: Array<[string, string, boolean]> = [
    ['*.log', 'a.log', true],
    ['*.log', 'dir/a.log', false],
    ['**/*.log', 'dir/sub/a.log', true],
    ['**/*.log', 'a.log', true],
    ['dir', 'dir/sub/file', true],
    ['/dir/', 'dir/file', true],
    ['./dir', 'dir/file', true],
    ['d?r', 'dir', true],
    ['[a-c].txt', 'b.txt', true],
    ['[^a-c].txt', 'b.txt', false],
    ['*.md\n!README.md', 'README.md', false],
    ['*.md\n!README.md', 'CHANGES.md', true],
    ['!README.md\n*.md', 'README.md', true],
    ['logs\n!logs/keep.log', 'logs/keep.log', false],
    ['logs\n!logs/keep.log', 'logs/other.log', true],
    ['# comment\n\n  spaced  ', 'spaced', true],
    ['# comment', '# comment', false],
  ];
  it.each(rows)('%j on %s: excluded %s', (text, path, excluded) => {
    expect(new DockerIgnore(text).excludes(path)).toBe(excluded);
  });
});

describe('--change', () => {
  const rows = [
    { changes: ['CMD ["/bin/sh"]'], want: { Cmd: ['/bin/sh'] } },
    { changes: ['CMD echo $HOME'], want: { Cmd: ['/bin/sh', '-c', 'echo $HOME'] } },
    { changes: ['ENTRYPOINT ["/init"]', 'ENV A=1 B="two words"', 'ENV C $A-x'], want: { Entrypoint: ['/init'], Env: ['A=1', 'B=two words', 'C=1-x'] } },
    { changes: ['WORKDIR /srv', 'WORKDIR app'], want: { WorkingDir: '/srv/app' } },
    { changes: ['USER app:app', 'STOPSIGNAL SIGINT'], want: { User: 'app:app', StopSignal: 'SIGINT' } },
    { changes: ['ONBUILD RUN make'], want: { OnBuild: ['RUN make'] } },
    { changes: ['EXPOSE 80 53/udp 8000-8001', 'VOLUME /data', 'LABEL a=b "c d"=e'], want: { ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} }, Volumes: { '/data': {} }, Labels: { a: 'b', 'c d': 'e' } } },
  ];
  it.each(rows)('$changes', ({ changes, want }) => {
    expect(applyChanges({}, changes)).toEqual(want);
  });

  it.each([
    ['RUN true', '--change:1: RUN cannot be a --change (allowed: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)'],
    ['CMD', '--change:1: CMD needs a command'],
    ['EXPOSE http', "--change:1: EXPOSE: invalid port 'http'"],
    ['NOPE x', '--change:1: unknown instruction: NOPE'],
  ])('%s fails: %s', (change, message) => {
    expect(() => applyChanges({}, [change])).toThrow(message);
  });
});

describe('HEALTHCHECK', () => {
  const config = (line: string) => applyMetadata({}, parseDockerfile(`FROM busybox\n${line}\n`).stages[0]!.instructions[0]!, () => undefined);
  it.each([
    {
      line: 'HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1',
      want: { Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], Interval: 300e9, Timeout: 3e9 },
      text: 'HEALTHCHECK &{Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:5m0s Timeout:3s StartPeriod:0s StartInterval:0s Retries:0}',
    },
    {
      line: 'HEALTHCHECK --start-period=1m30.5s --start-interval=250ms --retries=3 CMD ["/bin/check", "--fast"]',
      want: { Test: ['CMD', '/bin/check', '--fast'], StartPeriod: 90.5e9, StartInterval: 250e6, Retries: 3 },
      text: 'HEALTHCHECK &{Test:[CMD /bin/check --fast] Interval:0s Timeout:0s StartPeriod:1m30.5s StartInterval:250ms Retries:3}',
    },
    {
      line: 'healthcheck --interval=2h NONE',
      want: { Test: ['NONE'] },
      text: 'HEALTHCHECK &{Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}',
    },
  ])('$line', ({ line, want, text }) => {
    const applied = config(line);
    expect(applied.config.Healthcheck).toEqual(want);
    expect(applied.text).toBe(text);
  });

  it.each([['1h0m0.001s', 3600e9 + 1e6], ['1.5h', 5400e9], ['2h45m', 9900e9], ['300ms', 300e6], ['0', 0]])('%s is %d ns and prints back', (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns);
    if (ns !== 0) expect(parseGoDuration(goDuration(ns))).toBe(ns);
  });
});
