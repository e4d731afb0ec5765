import { Args } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { loadConfig } from '../../config/load.js';
import { UserSettingsStore } from '../../config/user.js';

export default class ConfigsAdd extends OprocCommand {
  static override summary = 'Save a config file under a short name, usable wherever a command takes CONFIG.';
  static override examples = ['<%= config.bin %> <%= command.id %> site /etc/oproc/site.json'];
  static override args = {
    name: Args.string({ description: 'Short name', required: true }),
    file: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  };

  async run(): Promise<{ name: string; file: string }> {
    const { args } = await this.parse(ConfigsAdd);
    await loadConfig(args.file); // Refuse a config that would fail later.
    const file = new UserSettingsStore(this.config.configDir).addConfig(args.name, args.file);
    this.log(`saved config "${args.name}": ${file}`);
    return { name: args.name, file };
  }
}
