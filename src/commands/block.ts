import { Args } from '@oclif/core';

import { cycleFlags, submissionArgs, watchExitCodesHelp } from '../cli/flags.js';
import { WatchCommand, type WatchSummary } from '../cli/watch-command.js';
import type { SubmissionFlags } from '../cli/submission-command.js';
import { usageError } from '../errors.js';
import { parseRun } from '../engine/runlist.js';

export default class Block extends WatchCommand {
  static override summary =
    'Like watch, over the runs START to END only; loops until every run of the block is handled (the original -b).';
  static override description =
    'A block keeps its own state document (watch_<RATV>_<FILETYPE>_block_<START>_<END>) and shares the watch lease, so ' +
    'it never writes beside a watcher of the same RAT version and filetype.\n' +
    watchExitCodesHelp;
  static override examples = ['<%= config.bin %> <%= command.id %> site.json 7.0.8 L2 300000 300100'];
  static override args = {
    ...submissionArgs,
    start: Args.string({ description: 'First run of the block', required: true }),
    end: Args.string({ description: 'Last run of the block (inclusive)', required: true }),
  };
  static override flags = cycleFlags;

  async run(): Promise<WatchSummary> {
    const { args, flags } = await this.parse(Block);
    const first = parseRun(args.start, 'START');
    const last = parseRun(args.end, 'END');
    if (first > last) throw usageError(`START ${first} is after END ${last}`);
    const prepared = await this.prepare(args, flags as SubmissionFlags);
    return this.loop(
      prepared,
      { ...prepared.options, mode: 'block', after: first - 1, last, args: this.commandLine() },
      {
        once: flags.once,
        intervalSeconds: flags.interval ?? prepared.config.watch.intervalSeconds,
        config: args.config,
      },
    );
  }
}
