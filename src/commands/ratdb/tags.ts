import { Args } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { listTags } from '../../ratdb/operations.js';

export interface TagsResult {
  ratdb: string;
  tags: { name: string; timestamp: string }[];
}

export default class RatdbTags extends OprocCommand {
  static override summary = 'List the RATDB tags, oldest first.';
  static override examples = ['<%= config.bin %> <%= command.id %> site.json'];
  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
  };

  async run(): Promise<TagsResult> {
    const { args } = await this.parse(RatdbTags);
    const config = await this.loadConfig(args.config);
    const db = await this.openDatabases(config, { ratdb: true }, { create: false });
    const tags = (await listTags(db.ratdb)).map((t) => ({
      name: t.name,
      timestamp: t.timestamp.toISOString(),
    }));
    if (tags.length === 0) this.log(`no tags in RATDB ${db.ratdb.description}`);
    const width = Math.max(0, ...tags.map((t) => t.name.length));
    for (const tag of tags) this.log(`${tag.name.padEnd(width)}  ${tag.timestamp}`);
    return { ratdb: db.ratdb.description, tags };
  }
}
