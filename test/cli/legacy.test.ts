import { expect } from 'chai';
import fc from 'fast-check';

import { translateLegacy, type Translation } from '../../src/cli/legacy.js';

/** What a command line asks for, independent of how it is spelled. */
interface Model {
  mode:
    | { kind: 'watch'; run: string }
    | { kind: 'block' | 'range'; start: string; end: string }
    | { kind: 'after'; run: string }
    | { kind: 'one-shot'; runs: string[] }
    | { kind: 'runlist'; file: string };
  tag?: string;
  modules: string[];
  outlist?: string;
  skip: boolean;
  find: 'no' | 'bare' | string;
  force: [string, string][];
  nocal: boolean;
  nodb: boolean;
}

const run = fc.integer({ min: 1, max: 999_999 }).map(String);
const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.]{0,11}$/);
const path = fc.stringMatching(/^[a-z][a-z0-9_./]{0,15}$/);

const model: fc.Arbitrary<Model> = fc.record({
  mode: fc.oneof(
    fc.record({ kind: fc.constant('watch' as const), run }),
    fc.record({ kind: fc.constantFrom('block' as const, 'range' as const), start: run, end: run }),
    fc.record({ kind: fc.constant('after' as const), run }),
    fc.record({
      kind: fc.constant('one-shot' as const),
      runs: fc.array(run, { minLength: 1, maxLength: 5 }),
    }),
    fc.record({ kind: fc.constant('runlist' as const), file: path }),
  ),
  tag: fc.option(fc.stringMatching(/^[a-z]+-[a-z]+-v\d$/), { nil: undefined }),
  modules: fc.array(word, { maxLength: 3 }),
  outlist: fc.option(path, { nil: undefined }),
  skip: fc.boolean(),
  find: fc.oneof(fc.constant('no'), fc.constant('bare'), fc.stringMatching(/^\d\.\d\.\d{1,2}$/)),
  force: fc.array(fc.tuple(word, fc.integer({ min: 0, max: 99 }).map(String)), { maxLength: 2 }),
  nocal: fc.boolean(),
  nodb: fc.boolean(),
});

/** Spelling choices the original's argparse accepts for the same request. */
interface Spelling {
  long: boolean[];
  equals: boolean[];
  order: number[];
}

/** The original command line for a model: options in some order, short or long, `--opt=value` or not. */
function legacyArgv(m: Model, spelling: Spelling): string[] {
  let k = 0;
  const pick = (short: string, long: string) => (spelling.long[k++ % spelling.long.length] ? long : short);
  const single = (short: string, long: string, value: string): string[] => {
    const name = pick(short, long);
    return name === long && spelling.equals[k % spelling.equals.length]
      ? [`${long}=${value}`]
      : [name, value];
  };
  const groups: string[][] = [];
  const mode = m.mode;
  if (mode.kind === 'watch') groups.push(single('-r', '--start-run', mode.run));
  if (mode.kind === 'block') groups.push([pick('-b', '--block-run'), mode.start, mode.end]);
  if (mode.kind === 'range') groups.push([pick('-R', '--reprocess-range'), mode.start, mode.end]);
  if (mode.kind === 'after') groups.push(single('-A', '--reprocess-after', mode.run));
  if (mode.kind === 'one-shot') groups.push([pick('-1', '--one-shot'), ...mode.runs]);
  if (mode.kind === 'runlist') groups.push(single('-L', '--runlist', mode.file));
  if (m.tag) groups.push(single('-t', '--ratdb-tag', m.tag));
  for (const module of m.modules) groups.push(single('-N', '--nearline', module));
  if (m.outlist) groups.push(single('-o', '--outlist', m.outlist));
  if (m.skip) groups.push([pick('-s', '--skip-ratdb-check')]);
  for (const [module, pass] of m.force) groups.push(['--force-prereq-pass', module, pass]);
  if (m.nocal) groups.push(['--testing-nocal']);
  if (m.nodb) groups.push(['--testing-nodb']);
  const ordered = groups
    .map((g, i) => ({ g, key: spelling.order[i % spelling.order.length]! * 100 + i }))
    .sort((a, b) => a.key - b.key)
    .map((x) => x.g);
  // A bare -f takes the next word as a RAT version when it is not a flag, so it goes last.
  if (m.find !== 'no')
    ordered.push(m.find === 'bare' ? [pick('-f', '--find-prereq')] : [pick('-f', '--find-prereq'), m.find]);
  return ['site.json', '7.0.8', 'L1', ...ordered.flat()];
}

/** The new form of a model, as a user would type it. */
function newForm(m: Model): Translation {
  const flags: string[] = [];
  if (m.tag) flags.push('--ratdb-tag', m.tag);
  for (const module of m.modules) flags.push('--modules', module);
  if (m.outlist) flags.push('--outlist', m.outlist);
  if (m.skip) flags.push('--skip-ratdb-check');
  for (const [module, pass] of m.force) flags.push('--force-prereq-pass', `${module}=${pass}`);
  if (m.nocal) flags.push('--ignore-calibration-locks');
  if (m.nodb) flags.push('--dry-run');
  if (m.find !== 'no') flags.push('--find-prereq', ...(m.find === 'bare' ? [] : ['--prereq-ratv', m.find]));
  const head = ['site.json', '7.0.8', 'L1'];
  const mode = m.mode;
  switch (mode.kind) {
    case 'watch':
      return { id: 'watch', argv: [...head, '--start-run', mode.run, ...flags] };
    case 'block':
      return { id: 'block', argv: [...head, mode.start, mode.end, ...flags] };
    case 'range':
      return { id: 'reprocess range', argv: [...head, mode.start, mode.end, ...flags] };
    case 'after':
      return { id: 'reprocess after', argv: [...head, mode.run, ...flags] };
    case 'one-shot':
      return { id: 'reprocess one-shot', argv: [...head, ...mode.runs, ...flags] };
    case 'runlist':
      return { id: 'reprocess runlist', argv: [...head, mode.file, ...flags] };
  }
}

/** A plan's identity: the command, its positionals, and its flags as a multiset (order does not matter). */
function plan(t: Translation): { id: string; positionals: string[]; flags: string[] } {
  const positionals: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < t.argv.length; i++) {
    const a = t.argv[i]!;
    if (!a.startsWith('--')) positionals.push(a);
    else if (['--skip-ratdb-check', '--ignore-calibration-locks', '--dry-run', '--find-prereq'].includes(a))
      flags.push(a);
    else flags.push(`${a} ${t.argv[++i]}`);
  }
  return { id: t.id, positionals, flags: flags.sort() };
}

describe('the original command line (offline_processing)', () => {
  it('maps every original command line to the same plan as its new form', () => {
    const spelling = fc.record({
      long: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      equals: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      order: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 12 }),
    });
    fc.assert(
      fc.property(model, spelling, (m, s) => {
        expect(plan(translateLegacy(legacyArgv(m, s)))).to.deep.equal(plan(newForm(m)));
      }),
      { numRuns: 500 },
    );
  });

  it('translates the line from the experiment manual', () => {
    const t = translateLegacy(
      'site.json 7.0.8 L1 -t water-physics-v2 -N Processing -N Analysis -L runs.txt -o runs.exactly'.split(
        ' ',
      ),
    );
    expect(t).to.deep.equal({
      id: 'reprocess runlist',
      argv: [
        'site.json',
        '7.0.8',
        'L1',
        'runs.txt',
        '--ratdb-tag',
        'water-physics-v2',
        '--modules',
        'Processing',
        '--modules',
        'Analysis',
        '--outlist',
        'runs.exactly',
      ],
    });
  });

  it('takes the word after -f as its RAT version unless it is a flag', () => {
    expect(translateLegacy(['c', '7.0.8', 'L2', '-1', '5', '-f', '7.0.5']).argv).to.include.members([
      '--find-prereq',
      '--prereq-ratv',
      '7.0.5',
    ]);
    expect(translateLegacy(['c', '7.0.8', 'L2', '-f', '-1', '5']).argv).to.not.include('--prereq-ratv');
  });

  it('reads grouped short flags and a value joined to its flag, as argparse does', () => {
    const t = translateLegacy(['c', '7.0.8', 'L2', '-sf', '-twater-v1', '-A', '300000']);
    expect(plan(t).flags).to.deep.equal(['--find-prereq', '--ratdb-tag water-v1', '--skip-ratdb-check']);
  });

  it('lets -1 runs come before the positionals, as argparse does', () => {
    expect(translateLegacy(['-1', '300001', '300002', 'site.json', '7.0.8', 'L2'])).to.deep.equal({
      id: 'reprocess one-shot',
      argv: ['site.json', '7.0.8', 'L2', '300001', '300002'],
    });
  });

  for (const [argv, message] of [
    [['c', '7.0.8', 'L2'], /exactly one of -r, -b, -R, -A, -1, -L is required/],
    [
      ['c', '7.0.8', 'L2', '-r', '1', '-A', '2'],
      /exactly one of .* \(given: --start-run, --reprocess-after\)/,
    ],
    [['c', '7.0.8', 'L2', '-b', '1'], /-b expects 2 arguments/],
    [['c', '7.0.8', '-r', '1'], /expected CONFIG RATV FILETYPE, got 2/],
    [['c', '7.0.8', 'L2', '-r', '1', '--frobnicate'], /unrecognized argument --frobnicate/],
  ] as [string[], RegExp][]) {
    it(`refuses ${argv.join(' ')} with a usage error`, () => {
      expect(() => translateLegacy(argv))
        .to.throw(message)
        .with.property('exitCode', 2);
    });
  }
});
