import path from 'node:path';

import { Args } from '@oclif/core';

import { OprocCommand } from '../base-command.js';
import { runDemo, type DemoResult } from '../demo/run.js';

export default class Demo extends OprocCommand {
  static override summary = "Run the demo: the README's story on embedded databases in a new folder.";
  static override description =
    'Fills embedded databases (PouchDB, PGlite) with a small data set shipped with oproc, runs 300000–300035, ' +
    'and runs the CLI step by step, saying before each step what happens and why: loading RATDB, importing ' +
    'data-flow documents, watching for complete runs, calibration locks, why a run has no jobs, the status, a ' +
    'reprocess with its outlist and the original command line. Each step is printed as a command you can type ' +
    'again. Everything is written into DIR (the databases, the config site.json, the data and the outlist), ' +
    'nothing elsewhere; DIR is emptied first if an earlier demo made it, and refused if it holds anything else. ' +
    'Needs no server and no network.\n\n' +
    'EXIT CODES\n' +
    '  0  every step ran\n' +
    '  1  a step failed (the demo stops there)\n' +
    '  2  DIR holds files the demo did not make';
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> /tmp/oproc-demo',
  ];
  static override enableJsonFlag = false;
  static override args = {
    dir: Args.string({
      description: 'Folder for the demo (default: $OPROC_DEMO_DIR, else oproc-demo in the current folder)',
      required: false,
    }),
  };

  async run(): Promise<DemoResult> {
    const { args } = await this.parse(Demo);
    const cwd = process.cwd();
    const dir = path.resolve(cwd, args.dir ?? process.env.OPROC_DEMO_DIR ?? 'oproc-demo');
    return runDemo({
      packageRoot: this.config.root,
      dir,
      cwd,
      env: process.env,
      // `npm run demo` in a clone is started again the same way.
      again: process.env.npm_lifecycle_event === 'demo' ? 'npm run demo' : undefined,
      write: (line) => this.log(line),
    });
  }
}
