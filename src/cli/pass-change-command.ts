import { Args, Flags, type Interfaces } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import { ExitCode, usageError } from '../errors.js';
import { passStatuses } from '../engine/types.js';
import { ModuleCatalog } from '../modules/catalog.js';
import {
  applyPassChanges,
  parsePassNumbers,
  planPassChanges,
  resolveStatuses,
  wouldChange,
  forceStatuses,
  type ChangedPass,
  type LeftPass,
  type PassChangeKind,
  type PassChangePlan,
  type PassChangeRequest,
} from '../operations/pass-changes.js';
import {
  changeLines,
  countLines,
  describeMatch,
  leftLines,
  verbs,
} from '../operations/pass-changes-format.js';
import { parseStatuses } from '../operations/passes.js';
import { unknownRatv } from '../operations/versions.js';
import { listOf, passSource, runSelectionFlags } from './pass-selection.js';
import { plural } from './messages.js';
import { whoAmI } from './submission-command.js';

/** What `retry` and `cancel` print with `--json` (DESIGN.md 4a). */
export interface PassChangeResult {
  changed: ChangedPass[];
  left: LeftPass[];
  dry_run: boolean;
  /** The warnings also printed on stderr (a job that may run twice, a document skipped). */
  warnings: string[];
}

export const passChangeArgs = {
  config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  ratv: Args.string({ description: 'RAT version whose passes are changed, e.g. 7.0.8', required: true }),
};

/** The selection `retry` and `cancel` share (DESIGN.md 4a). */
export const passChangeFlags = {
  module: Flags.string({
    char: 'm',
    summary: 'Only this module, or the modules a shell glob matches (quote it: -m "Analysis*"); repeatable.',
    multiple: true,
    helpValue: 'NAME',
  }),
  pass: Flags.string({
    summary: 'Only this pass number; repeat per pass, or a comma list.',
    multiple: true,
    helpValue: 'N',
  }),
  status: Flags.string({
    summary: 'Only passes in this status; repeat per status, or a comma list.',
    multiple: true,
    helpValue: 'STATUS',
  }),
  ...runSelectionFlags,
  'last-pass': Flags.boolean({
    aliases: ['lastpass'],
    summary: "Only each job's newest pass of RATV (an older pass is left as it is).",
    default: false,
  }),
  'dry-run': Flags.boolean({ summary: 'List the passes that would change; change nothing.', default: false }),
  yes: Flags.boolean({
    char: 'y',
    aliases: ['fearless'],
    summary: 'Change the passes without asking (needed when there is no terminal).',
    default: false,
  }),
};

export const passChangeExitCodes = `
EXIT CODES
  0  every matching pass was changed (also when none matched), or a dry run, or the question answered no
  1  some passes were left alone (changed meanwhile by a grid client, or named by --exactly and missing), listed with why
  2  usage or config error (unknown status or module, bad run or pass, unreadable runlist or outlist, --from after --to,
     no terminal to ask on and no --yes, unreachable database): nothing was changed`;

type ChangeFlags = Interfaces.InferredFlags<typeof passChangeFlags> & { force?: boolean };

/** `retry` and `cancel` differ only in what they set passes to and which statuses they take. */
export abstract class PassChangeCommand extends OprocCommand {
  protected abstract readonly kind: PassChangeKind;

  async run(): Promise<PassChangeResult> {
    const { args, flags } = await this.parse(this.ctor as typeof PassChangeCommand);
    const typed = args as { config: string; ratv: string };
    const request = await this.request(typed.ratv, flags as ChangeFlags);
    const config = await this.loadConfig(typed.config);
    const catalog = await ModuleCatalog.load(this.config, config);
    if (catalog.ratvs().includes(typed.ratv))
      request.knownModules = Object.keys(catalog.forRatv(typed.ratv).processing_modules);
    const db = await this.openDatabases(config, { processing: true }, { create: false });
    const unknown = await unknownRatv(db.processing, catalog.ratvs(), typed.ratv);
    if (unknown) throw unknown;
    const plan = await planPassChanges(db.processing, request);
    for (const w of plan.warnings) this.warning(`skipped document ${w.id}: ${w.problem}`);
    const forced = plan.matched.filter((m) => (forceStatuses as readonly string[]).includes(m.status));
    if (this.kind === 'retry' && forced.length)
      this.warning(
        `${plural(forced.length, 'pass')} ${forced.length === 1 ? 'is' : 'are'} submitted or running: if ${forced.length === 1 ? 'its' : 'their'} grid job is still alive, the job may run twice`,
      );

    if (plan.matched.length === 0) return this.finish(this.nothingMatched(plan));
    if ((flags as ChangeFlags)['dry-run']) {
      const changes = wouldChange(plan);
      this.listing(
        changes,
        `Dry run: ${describeMatch(this.kind, request.ratv, plan.matched)} would be ${verbs[this.kind].past}; nothing changed.`,
      );
      return this.finish({ changed: changes, left: plan.left, dry_run: true });
    }
    if (!(flags as ChangeFlags).yes && !(await this.confirmed(plan))) {
      this.log('Nothing changed.');
      return this.finish({ changed: [], left: plan.left, dry_run: false });
    }
    const outcome = await applyPassChanges(db.processing, plan, { by: whoAmI(), now: new Date() });
    const what = `${plural(outcome.changed.length, 'pass')} of RAT ${request.ratv} ${verbs[this.kind].past}`;
    this.listing(outcome.changed, `${what}.`);
    return this.finish({ ...outcome, dry_run: false });
  }

  /** The selection from the flags, checked before any file or database is opened for writing. */
  private async request(ratv: string, flags: ChangeFlags): Promise<PassChangeRequest> {
    const statuses = resolveStatuses(this.kind, parseStatuses(listOf(flags.status)), flags.force ?? false);
    const modules = (flags.module ?? []).map((m) => m.trim()).filter((m) => m !== '');
    if (this.kind === 'cancel' && modules.length === 0) {
      throw usageError(
        'cancel needs at least one -m/--module: name the module(s) whose jobs are canceled',
        'a glob selects several: -m "Analysis*"; every module: -m "*"',
      );
    }
    return {
      kind: this.kind,
      ratv,
      source: await passSource(flags),
      modules,
      passes: parsePassNumbers(listOf(flags.pass)),
      statuses,
      lastPass: flags['last-pass'],
    };
  }

  private nothingMatched(plan: PassChangePlan): Omit<PassChangeResult, 'warnings'> {
    const { ratv, statuses } = plan.request;
    const note =
      plan.ratvSeen || plan.request.knownModules
        ? ''
        : ` (RAT ${ratv} has no processing information here and no job document read has a pass of it: check the RAT version)`;
    this.log(`No pass of RAT ${ratv} in status ${statuses.join(', ')} matches; nothing changed${note}.`);
    return { changed: [], left: plan.left, dry_run: false };
  }

  /** Lists each pass, the summary, then the count per module and status (of the status before). */
  private listing(changes: readonly ChangedPass[], summary: string): void {
    for (const line of changeLines(changes)) this.log(line);
    this.log(summary);
    if (changes.length)
      for (const line of countLines(changes.map((c) => ({ ...c, status: c.from })))) this.log(line);
  }

  /**
   * On a terminal: show the counts and ask (y/N). Without one: list what would change and stop with
   * exit 2, so a script never changes passes it did not say `--yes` to.
   */
  private async confirmed(plan: PassChangePlan): Promise<boolean> {
    const { ratv } = plan.request;
    const question = `${verbs[this.kind].infinitive[0]!.toUpperCase()}${verbs[this.kind].infinitive.slice(1)} ${describeMatch(this.kind, ratv, plan.matched)}?`;
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      for (const line of changeLines(wouldChange(plan))) this.log(line);
      for (const line of countLines(plan.matched)) this.log(line);
      throw usageError(
        `${plural(plan.matched.length, 'pass')} ${plan.matched.length === 1 ? 'matches' : 'match'} and nothing was changed: there is no terminal to ask on`,
        `give --yes (or --fearless) to ${verbs[this.kind].infinitive} them, or --dry-run to only list them`,
      );
    }
    process.stderr.write(
      `${plural(plan.matched.length, 'pass')} of RAT ${ratv} ${plan.matched.length === 1 ? 'matches' : 'match'}:\n`,
    );
    for (const line of countLines(plan.matched)) process.stderr.write(`${line}\n`);
    const { default: confirm } = await import('@inquirer/confirm');
    try {
      return await confirm(
        { message: question, default: false },
        { input: process.stdin, output: process.stderr },
      );
    } catch (error) {
      if ((error as Error).name === 'ExitPromptError') return false; // Ctrl-C at the question
      throw error;
    }
  }

  private readonly warnings: string[] = [];

  /** A warning on stderr, kept for the result's `warnings` too. */
  private warning(message: string): void {
    this.warnings.push(message);
    this.warn(message);
  }

  private finish(result: Omit<PassChangeResult, 'warnings'>): PassChangeResult {
    if (result.left.length) {
      this.logToStderr(`Left alone (${result.left.length}):`);
      for (const line of leftLines(result.left)) this.logToStderr(line);
      process.exitCode = ExitCode.Partial;
    }
    return { ...result, warnings: [...this.warnings] };
  }
}

export const statusesHelp = `Statuses: ${passStatuses.join(', ')}.`;
