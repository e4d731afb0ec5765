import { Args } from '@oclif/core';

import { ReprocessCommand } from '../../cli/reprocess-command.js';
import { exitCodesHelp, submissionArgs } from '../../cli/flags.js';
import type { RunSource } from '../../engine/reprocess.js';
import { parseRun } from '../../engine/runlist.js';

export default class ReprocessOneShot extends ReprocessCommand {
  static override summary = 'Create a new pass for each run given (the original -1).';
  static override description = exitCodesHelp;
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300050 300052 300060 -N Processing',
  ];
  static override args = {
    ...submissionArgs,
    // Only RUNS repeats: `CONFIG RATV FILETYPE RUNS...`.
    runs: Args.string({ description: 'Run numbers, one or more', required: true, multiple: true }),
  };
  protected readonly mode = 'one-shot';

  protected async source(args: Record<string, unknown>): Promise<RunSource> {
    const runs = (args.runs as string[]).map((text) => parseRun(text, 'RUN'));
    return { kind: 'list', runs };
  }
}
