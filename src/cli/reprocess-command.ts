import { ExitCode, OprocError } from '../errors.js';
import {
  exitCodeOf,
  reprocess,
  StoppedSubmission,
  type ReprocessRequest,
  type RunSource,
  type SubmissionResult,
} from '../engine/reprocess.js';
import { plural } from './messages.js';
import { countByModule, createdText, describeSkips, withProgress } from './render.js';
import { engineContext, SubmissionCommand, type SubmissionFlags } from './submission-command.js';

type Mode = ReprocessRequest['mode'];

/** The four reprocess commands differ only in where their runs come from. */
export abstract class ReprocessCommand extends SubmissionCommand {
  protected abstract readonly mode: Mode;

  /** Parses the command's own arguments into runs; bad input throws before anything is opened. */
  protected abstract source(args: Record<string, unknown>): Promise<RunSource>;

  async run(): Promise<SubmissionResult> {
    const { args, flags } = await this.parse(this.ctor as typeof ReprocessCommand);
    const typed = args as { config: string; ratv: string; filetype: string } & Record<string, unknown>;
    const prepared = await this.prepare(typed, flags as SubmissionFlags);
    const source = await this.source(typed);
    const db = await this.openDatabases(prepared.config);
    this.stopOnSignals();
    const request: ReprocessRequest = {
      ...prepared.options,
      mode: this.mode,
      source,
      args: this.commandLine(),
    };
    const title = `reprocess ${this.mode} with RAT ${request.ratv} ${request.filetype}${request.dryRun ? ' (dry run: nothing written)' : ''}`;
    const result = await withProgress(
      title,
      { json: this.jsonEnabled() },
      (reporter) => reprocess(engineContext(db, prepared, reporter, this.stopSignal), request),
      (r) => `${title}: ${createdText(r.created.length, r.dry_run)}`,
    ).catch((error: unknown) => {
      if (!(error instanceof StoppedSubmission)) throw error;
      throw new OprocError(
        `${error.message}. Resume with: ${this.config.bin} reprocess resume ${typed.config} ${error.submission}`,
        ExitCode.Partial,
      );
    });
    summarize(this, result, typed.config, request.outlist);
    process.exitCode = exitCodeOf(result);
    return result;
  }
}

/** The end of a reprocess, in words: passes created, runs skipped and why, how to resume. */
export function summarize(
  command: { log(message: string): void; config: { bin: string } },
  result: SubmissionResult,
  config: string,
  outlist?: string,
): void {
  const runs = new Set(result.created.map((c) => c.run)).size;
  const where = result.dry_run ? 'Dry run: ' : result.submission ? `Submission ${result.submission}: ` : '';
  command.log(
    `${where}${createdText(result.created.length, result.dry_run)} for ${plural(runs, 'run')}${result.created.length ? ` (${countByModule(result.created)})` : ''}.`,
  );
  if (result.dry_run) {
    for (const c of result.created) command.log(`  ${c.module}\t${c.run}\t${c.pass}`);
  }
  if (result.skipped.length) {
    command.log(`Skipped or failed (${result.skipped.length}):`);
    for (const line of describeSkips(result.skipped)) command.log(line);
  }
  const unknown = result.skipped.filter((s) => s.kind === 'no-data').map((s) => s.run);
  if (unknown.length) command.log(`Not in the data-flow database (${unknown.length}): ${unknown.join(', ')}`);
  if (result.pending.length) {
    command.log(`Not complete yet, left for the watcher: ${result.pending.map((p) => p.run).join(', ')}`);
  }
  if (outlist && !result.dry_run && result.created.length)
    command.log(`Outlist: ${plural(result.created.length, 'line')} appended to ${outlist}`);
  if (result.interrupted && result.submission) {
    command.log(
      `Stopped before the end. Resume with: ${command.config.bin} reprocess resume ${config} ${result.submission}`,
    );
  }
}
