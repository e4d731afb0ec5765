import { Args, Flags } from '@oclif/core';

/** `CONFIG RATV FILETYPE`, first as in the original (DESIGN.md 3). */
export const submissionArgs = {
  config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  ratv: Args.string({ description: 'RAT version, e.g. 7.0.8', required: true }),
  filetype: Args.string({ description: 'Input files: L1 or L2', required: true }),
};

/** The flags all six submission commands share, with the original's short forms and aliases. */
export const submissionFlags = {
  'ratdb-tag': Flags.string({
    char: 't',
    summary: 'Read RATDB as frozen by this tag (recorded in every pass).',
    helpValue: 'TAG',
  }),
  modules: Flags.string({
    char: 'N',
    aliases: ['nearline'],
    summary: 'Run these modules instead of those the run type selects; repeat per module, or a comma list.',
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'MODULE',
  }),
  outlist: Flags.string({
    char: 'o',
    summary: 'Append one line per created pass, MODULE<TAB>RUN<TAB>PASS, to this file.',
    helpValue: 'FILE',
  }),
  'skip-ratdb-check': Flags.boolean({
    char: 's',
    summary: 'Do not check for the RATDB tables modules need (useful when producing tables).',
    default: false,
  }),
  'find-prereq': Flags.boolean({
    char: 'f',
    summary:
      'Link the newest pass of a prerequisite not created in this submission (same RAT version, or --prereq-ratv).',
    default: false,
  }),
  'prereq-ratv': Flags.string({
    summary: 'With -f: find prerequisite passes of this RAT version.',
    helpValue: 'RATV',
    dependsOn: ['find-prereq'],
  }),
  'force-prereq-pass': Flags.string({
    summary:
      'Link this pass of a prerequisite, e.g. Processing=3; fails clearly if it does not exist. Repeatable.',
    multiple: true,
    multipleNonGreedy: true,
    helpValue: 'MODULE=PASS',
  }),
  'ignore-calibration-locks': Flags.boolean({
    aliases: ['testing-nocal'],
    summary: 'Ignore calibration locks: neither honour nor set them.',
    default: false,
  }),
  'dry-run': Flags.boolean({
    aliases: ['testing-nodb'],
    summary: 'Write nothing anywhere (no database, no outlist); print the plan.',
    default: false,
  }),
};

/** `watch` and `block`: the flags of every submission command, and how they cycle. */
export const cycleFlags = {
  ...submissionFlags,
  once: Flags.boolean({ summary: 'Run one cycle and stop.' }),
  interval: Flags.integer({
    summary:
      'Longest wait in seconds between cycles when the data-flow database has a change feed (a change wakes the watcher sooner); the poll period otherwise. Default: config watch.interval_seconds, else 30.',
    min: 1,
  }),
};

/** Appended to the reprocess commands' help: what the exit code means (DESIGN.md 3). */
export const exitCodesHelp = `
EXIT CODES
  0  everything asked for was done
  1  some runs or modules were skipped or failed (each listed with why), or the command was stopped
  2  usage or config error (bad input, unknown RATV/tag/module, unreachable database): nothing was written`;

/** Appended to watch and block help: being held or stopped by a signal is how a watcher normally ends. */
export const watchExitCodesHelp = `
EXIT CODES
  0  every run taken was given its passes (also when held by a lock or missing tables, or stopped by SIGINT/SIGTERM, also as a standby)
  1  some runs were handled without a pass for some module (each listed with why), or the lease was lost
  2  usage or config error (bad input, unknown RATV/tag/module, unreachable database, another watcher holds the lease with --once; without it a watcher waits as a standby)`;
