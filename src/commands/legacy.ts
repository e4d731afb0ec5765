import { OprocCommand } from '../base-command.js';
import { translateLegacy } from '../cli/legacy.js';

export default class Legacy extends OprocCommand {
  static override summary = 'Run the original offline_processing.py command line unchanged.';
  static override description =
    'CONFIG RATV FILETYPE and the original flags: exactly one of -r RUN, -b START END, -R START END, -A RUN, ' +
    '-1 RUN..., -L FILE; and -t TAG, -N MODULE (once per module), -o FILE, -s, -f [RATV], ' +
    '--force-prereq-pass MODULE PASSNO, --testing-nocal, --testing-nodb. The same as the new command it maps to ' +
    '(watch, block, reprocess range|after|one-shot|runlist), which is printed on stderr. The bin offline_processing ' +
    'runs this command.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 L1 -t water-physics-v2 -N Processing -N Analysis -L runs.txt -o runs.exactly',
    'offline_processing site.json 7.0.8 L2 -r 300000',
  ];
  static override strict = false;
  static override enableJsonFlag = false;

  async run(): Promise<unknown> {
    const translation = translateLegacy(this.argv);
    process.stderr.write(
      `offline_processing: running ${this.config.bin} ${translation.id} ${translation.argv.join(' ')}\n`,
    );
    return this.config.runCommand(translation.id.replace(' ', ':'), translation.argv);
  }
}
