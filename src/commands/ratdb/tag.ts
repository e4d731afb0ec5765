import { Args, Flags } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { checkTagName, setTag, tagTime, type TagResult } from '../../ratdb/operations.js';

export default class RatdbTag extends OprocCommand {
  static override summary = 'Create or move a RATDB tag: a frozen state passes can read with --ratdb-tag.';
  static override description =
    'A tag is a name and a time: reads with -t NAME see only RATDB tables whose timestamp is not later. ' +
    'Tag names use letters, digits, "-", "_" and "." (e.g. water-physics-v2). Giving an existing name ' +
    'moves the tag.';
  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json water-physics-v2',
    '<%= config.bin %> <%= command.id %> site.json fullscint-antinu-v3 --at 2026-11-24T10:00:00Z',
  ];
  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
    name: Args.string({ description: 'Tag name, e.g. water-physics-v2', required: true }),
  };
  static override flags = {
    at: Flags.string({ description: 'ISO time the tag freezes (default: now)', helpValue: 'ISO-TIME' }),
  };

  async run(): Promise<TagResult> {
    const { args, flags } = await this.parse(RatdbTag);
    // Both are checked before any database is opened.
    const name = checkTagName(args.name);
    const timestamp = tagTime(flags.at);
    const config = await this.loadConfig(args.config);
    const db = await this.openDatabases(config, { ratdb: true });
    const result = await setTag(db.ratdb, name, timestamp);
    this.log(
      result.previous === null
        ? `tag ${result.name} set at ${result.timestamp}`
        : `tag ${result.name} moved from ${result.previous} to ${result.timestamp}`,
    );
    return result;
  }
}
