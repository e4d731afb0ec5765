import { readFile } from 'node:fs/promises';

import { Args } from '@oclif/core';

import { ReprocessCommand } from '../../cli/reprocess-command.js';
import { exitCodesHelp, submissionArgs } from '../../cli/flags.js';
import { usageError } from '../../errors.js';
import type { RunSource } from '../../engine/reprocess.js';
import { parseRunlist } from '../../engine/runlist.js';

async function readStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text;
}

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
    const file = String(args.file);
    let text: string;
    try {
      text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
    } catch (error) {
      throw usageError(
        `cannot read runlist ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
    const runs = parseRunlist(text, file === '-' ? '(stdin)' : file);
    if (runs.length === 0) throw usageError(`runlist ${file} lists no runs`);
    return { kind: 'list', runs };
  }
}
