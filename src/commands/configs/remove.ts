import { Args } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { UserSettingsStore } from '../../config/user.js';
import { usageError } from '../../errors.js';

export default class ConfigsRemove extends OprocCommand {
  static override summary = 'Forget a saved config name (the file itself is left alone).';
  static override examples = ['<%= config.bin %> <%= command.id %> site'];
  static override args = { name: Args.string({ description: 'Saved name', required: true }) };

  async run(): Promise<{ removed: string }> {
    const { args } = await this.parse(ConfigsRemove);
    if (!new UserSettingsStore(this.config.configDir).removeConfig(args.name)) {
      throw usageError(`no saved config named "${args.name}" (see oproc configs)`);
    }
    this.log(`removed config "${args.name}"`);
    return { removed: args.name };
  }
}
