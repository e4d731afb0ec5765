import { existsSync } from 'node:fs';
import path from 'node:path';

import Conf from 'conf';

import { usageError } from '../errors.js';

interface UserSettings {
  /** Named configs: `oproc watch site 7.0.8 L2 ...` reads the file saved as "site". */
  configs: Record<string, string>;
}

/** A user's own defaults, kept with `conf` in oclif's config directory (OPROC_CONFIG_DIR moves it). */
export class UserSettingsStore {
  private readonly store: Conf<UserSettings>;

  constructor(configDir: string) {
    this.store = new Conf<UserSettings>({
      cwd: configDir,
      configName: 'settings',
      projectName: 'oproc',
      defaults: { configs: {} },
      schema: {
        configs: { type: 'object', additionalProperties: { type: 'string' } },
      },
    });
  }

  get file(): string {
    return this.store.path;
  }

  configs(): Record<string, string> {
    return { ...this.store.get('configs') };
  }

  addConfig(name: string, file: string): string {
    if (!/^[A-Za-z][\w.-]*$/.test(name)) {
      throw usageError(
        `config name "${name}": use letters, digits, ".", "-" and "_", starting with a letter`,
      );
    }
    const absolute = path.resolve(file);
    if (!existsSync(absolute)) throw usageError(`cannot save config "${name}": ${file} does not exist`);
    this.store.set(`configs.${name}`, absolute);
    return absolute;
  }

  removeConfig(name: string): boolean {
    if (!(name in this.configs())) return false;
    this.store.delete(`configs.${name}` as keyof UserSettings);
    return true;
  }

  /** CONFIG as given: a file if one exists there, else a saved config of that name, else the path as given. */
  resolve(config: string): string {
    if (existsSync(config)) return config;
    return this.configs()[config] ?? config;
  }
}
