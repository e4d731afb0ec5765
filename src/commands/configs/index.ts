import { OprocCommand } from '../../base-command.js';
import { UserSettingsStore } from '../../config/user.js';

export default class Configs extends OprocCommand {
  static override summary = 'List the configs saved by name (user settings).';
  static override description =
    'Any command takes a saved name wherever it takes CONFIG: `oproc watch site 7.0.8 L2 -r 300000`. A file at that path wins over a name.';
  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<{ configs: Record<string, string>; settings: string }> {
    const store = new UserSettingsStore(this.config.configDir);
    const configs = store.configs();
    const names = Object.keys(configs).sort();
    if (names.length === 0) this.log('No saved configs. Save one with: oproc configs add NAME FILE');
    for (const name of names) this.log(`${name}\t${configs[name]}`);
    return { configs, settings: store.file };
  }
}
