import { Args } from '@oclif/core';

import { ReprocessCommand } from '../../cli/reprocess-command.js';
import { exitCodesHelp, submissionArgs } from '../../cli/flags.js';
import type { RunSource } from '../../engine/reprocess.js';
import { parseRun } from '../../engine/runlist.js';

export default class ReprocessOneShot extends ReprocessCommand {
  static override summary = 'Create a new pass for each run given (the original -1).';
  static override strict = false;
  static override description = exitCodesHelp;
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300050 300052 300060 -N Processing',
  ];
  static override args = {
    ...submissionArgs,
    runs: Args.string({ description: 'Runs (one or more)', required: true }),
  };
  protected readonly mode = 'one-shot';

  protected async source(): Promise<RunSource> {
    const { argv } = await this.parse(ReprocessOneShot);
    const runs = (argv as string[]).slice(3).map((text) => parseRun(text, 'RUN'));
    return { kind: 'list', runs };
  }
}
