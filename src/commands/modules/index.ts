import { Args } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import type { ModuleDefinition, ProcessingInformation } from '../../engine/types.js';
import { ModuleCatalog } from '../../modules/catalog.js';
import { modulesTable, runTypeTable } from '../../modules/format.js';

export interface ModulesResult extends ProcessingInformation {
  /** Module name to the plugin or JSON file that defined it. */
  sources: Record<string, string>;
  /** Selectors the config may name, with the plugin that gives each. */
  selectors: Record<string, string>;
  /** The config's selector. */
  selector: string;
}

export interface VersionsResult {
  ratvs: string[];
  /** RAT version to the plugins and files that gave its modules. */
  sources: Record<string, string[]>;
  /** The module plugins the config uses: those its `module_plugins` names, else every installed one. */
  module_plugins: string[];
  selectors: Record<string, string>;
  selector: string;
}

export default class Modules extends OprocCommand {
  static override summary = 'Show the modules of a RAT version and which run types run them.';
  static override description =
    'Merges the processing information of the JSON files the config names (key "processing_information") ' +
    'and of its module plugins (those its key "module_plugins" names, else every installed one), and lists ' +
    'each module of RATV with its level, macro path, prerequisites, required RATDB tables and the plugin or ' +
    'file that defined it, then the run-type table. Without RATV, lists the RAT versions that have processing ' +
    'information, with their sources. Opens no database. ' +
    'Exit codes: 0 shown; 2 bad config, invalid processing information or unknown RATV.';

  static override examples = [
    '<%= config.bin %> <%= command.id %> site.json 7.0.8',
    '<%= config.bin %> <%= command.id %> site.json 7.0.8 --json',
    '<%= config.bin %> <%= command.id %> site.json',
  ];

  static override args = {
    config: Args.string({ description: 'Config file (JSON or YAML)', required: true }),
    ratv: Args.string({ description: 'RAT version, e.g. 7.0.8 (omit to list the versions)' }),
  };

  async run(): Promise<ModulesResult | VersionsResult> {
    const { args } = await this.parse(Modules);
    const config = await this.loadConfig(args.config);
    const catalog = await ModuleCatalog.load(this.config, config);
    const selectors = Object.fromEntries(
      catalog.selectorNames().map((n) => [n, catalog.selectorSource(n) ?? '?']),
    );
    catalog.selector(config.selector); // an unknown selector in the config is worth saying here too
    if (args.ratv === undefined) {
      const ratvs = catalog.ratvs();
      const sources = Object.fromEntries(ratvs.map((ratv) => [ratv, catalog.sourcesOf(ratv)]));
      const plugins = catalog.modulePlugins();
      this.log(`RAT versions with processing information: ${ratvs.join(', ') || 'none'}`);
      for (const ratv of ratvs) this.log(`  ${ratv}: ${sources[ratv]!.join(', ')}`);
      const which = config.modulePlugins === undefined ? 'every installed one' : 'named in module_plugins';
      this.log(`module plugins used (${which}): ${plugins.join(', ') || 'none'}`);
      return { ratvs, sources, module_plugins: plugins, selectors, selector: config.selector };
    }
    const ratv = args.ratv;
    const info = catalog.forRatv(ratv);
    const sources = Object.fromEntries(
      Object.keys(info.processing_modules).map((m) => [m, catalog.sourceOf(ratv, m)]),
    );
    this.render(info, sources, config.selector);
    return { ...info, sources, selectors, selector: config.selector };
  }

  private render(info: ProcessingInformation, sources: Record<string, string>, selector: string): void {
    this.log(`RAT version ${info.ratv}`);
    this.log('');
    for (const line of modulesTable(info, (m) => sources[m] ?? '?')) this.log(line);
    this.log('');
    for (const line of runTypeTable(info)) this.log(line);
    this.log('');
    this.log(`selector: ${selector}`);
    const extras = Object.entries(info.processing_modules).filter(([, m]) => extraFields(m).length > 0);
    for (const [name, module] of extras) this.log(`${name} also sets: ${extraFields(module).join(', ')}`);
  }
}

const knownFields = new Set([
  'type',
  'level',
  'path',
  'outputs',
  'prerequisites',
  'raw_processor',
  'ratdb_tables',
]);

/** Experiment fields oproc does not interpret but copies into each pass. */
function extraFields(module: ModuleDefinition): string[] {
  return Object.keys(module).filter((field) => !knownFields.has(field));
}
