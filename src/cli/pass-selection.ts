import { Flags } from '@oclif/core';

import { usageError } from '../errors.js';
import { readOutlist } from '../engine/outlist.js';
import { parseRun, readRunlist } from '../engine/runlist.js';
import type { PassSource } from '../operations/passes.js';

/** `--x A --x B` or `--x A,B`, trimmed, without empties. */
export function listOf(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/** How passes are selected by run: one of `--run`, `--from`/`--to`, `--runlist`, `--exactly`. */
export const runSelectionFlags = {
  run: Flags.string({
    summary: 'Only this run; repeat per run, or a comma list.',
    multiple: true,
    helpValue: 'RUN',
  }),
  from: Flags.string({ summary: 'Only runs from this one on (inclusive).', helpValue: 'RUN' }),
  to: Flags.string({ summary: 'Only runs up to this one (inclusive).', helpValue: 'RUN' }),
  runlist: Flags.string({
    summary: 'Only the runs listed in this file, one per line (# comments allowed; - reads stdin).',
    helpValue: 'FILE',
  }),
  exactly: Flags.string({
    summary: 'Exactly the passes this outlist names (MODULE RUN PASS per line).',
    helpValue: 'OUTLIST',
  }),
};

export interface RunSelectionFlags {
  run?: string[];
  from?: string;
  to?: string;
  runlist?: string;
  exactly?: string;
}

/**
 * Where the passes come from, checked before any database is opened. The four ways exclude each
 * other (checked here rather than with oclif's `exclusive`, whose usage line would show --from and
 * --to as alternatives). No way given: every run.
 */
export async function passSource(flags: RunSelectionFlags): Promise<PassSource> {
  const range = flags.from !== undefined || flags.to !== undefined;
  const ways = [
    flags.run?.length ? '--run' : undefined,
    range ? '--from/--to' : undefined,
    flags.runlist !== undefined ? '--runlist' : undefined,
    flags.exactly !== undefined ? '--exactly' : undefined,
  ].filter((w): w is string => w !== undefined);
  if (ways.length > 1) {
    throw usageError(
      `${ways.join(' and ')} select runs ${ways.length === 2 ? 'two' : 'several'} ways: use one`,
      ...(flags.exactly !== undefined
        ? ['--exactly takes the runs, modules and passes from the outlist']
        : []),
    );
  }
  if (flags.exactly !== undefined) return { kind: 'exactly', entries: await readOutlist(flags.exactly) };
  if (flags.runlist !== undefined) return { kind: 'runs', runs: await readRunlist(flags.runlist) };
  const runs = listOf(flags.run).map((r) => parseRun(r, '--run'));
  if (runs.length) return { kind: 'runs', runs };
  const from = flags.from === undefined ? undefined : parseRun(flags.from, '--from');
  const to = flags.to === undefined ? undefined : parseRun(flags.to, '--to');
  if (from !== undefined && to !== undefined && from > to)
    throw usageError(`--from ${from} is after --to ${to}`);
  return { kind: 'range', from, to };
}
