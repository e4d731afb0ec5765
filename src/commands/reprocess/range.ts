import { Args } from '@oclif/core';

import { ReprocessCommand } from '../../cli/reprocess-command.js';
import { exitCodesHelp, submissionArgs } from '../../cli/flags.js';
import { usageError } from '../../errors.js';
import type { RunSource } from '../../engine/reprocess.js';
import { parseRun } from '../../engine/runlist.js';

export default class ReprocessRange extends ReprocessCommand {
  static override summary =
    'Create a new pass for every complete run from START to END, inclusive (the original -R).';
  static override description =
    'Runs are those the data-flow database knows in the range; runs not complete yet are listed and left for the watcher.\n' +
    exitCodesHelp;
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300000 300100',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300000 300100 -t water-physics-v2 -o runs.exactly',
  ];
  static override args = {
    ...submissionArgs,
    start: Args.string({ description: 'First run', required: true }),
    end: Args.string({ description: 'Last run (inclusive)', required: true }),
  };
  protected readonly mode = 'range';

  protected async source(args: Record<string, unknown>): Promise<RunSource> {
    const first = parseRun(String(args.start), 'START');
    const last = parseRun(String(args.end), 'END');
    if (first > last) throw usageError(`START ${first} is after END ${last}`);
    return { kind: 'range', first, last };
  }
}
