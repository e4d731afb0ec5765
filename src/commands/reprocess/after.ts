import { Args } from '@oclif/core';

import { ReprocessCommand } from '../../cli/reprocess-command.js';
import { exitCodesHelp, submissionArgs } from '../../cli/flags.js';
import type { RunSource } from '../../engine/reprocess.js';
import { parseRun } from '../../engine/runlist.js';

export default class ReprocessAfter extends ReprocessCommand {
  static override summary =
    'Create a new pass for every complete run from RUN on, inclusive (the original -A).';
  static override description = exitCodesHelp;
  static override examples = ['<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300050'];
  static override args = {
    ...submissionArgs,
    run: Args.string({ description: 'First run', required: true }),
  };
  protected readonly mode = 'after';

  protected async source(args: Record<string, unknown>): Promise<RunSource> {
    return { kind: 'range', first: parseRun(String(args.run), 'RUN') };
  }
}
