import { Args } from '@oclif/core';

import { ReprocessCommand } from '../../cli/reprocess-command.js';
import { exitCodesHelp, submissionArgs } from '../../cli/flags.js';
import type { RunSource } from '../../engine/reprocess.js';
import { readRunlist } from '../../engine/runlist.js';

export default class ReprocessRunlist extends ReprocessCommand {
  static override summary = 'Create a new pass for each run listed in FILE, one per line (the original -L).';
  static override description =
    'Blank lines and # comments are allowed; FILE "-" reads the list from standard input.\n' + exitCodesHelp;
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 runs.txt -o runs.exactly',
    'cat runs.txt | <%= config.bin %> <%= command.id %> site.json 7.0.8 L2 - --json',
  ];
  static override args = {
    ...submissionArgs,
    file: Args.string({ description: 'Runlist file, or - for stdin', required: true }),
  };
  protected readonly mode = 'runlist';

  protected async source(args: Record<string, unknown>): Promise<RunSource> {
    const runs = await readRunlist(String(args.file));
    return { kind: 'list', runs };
  }
}
