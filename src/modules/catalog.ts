import { isDeepStrictEqual } from 'node:util';

import type { Config } from '@oclif/core';

import { configError, type OprocConfig } from '../config/load.js';
import type {
  ModuleDefinition,
  ModulesContribution,
  ProcessingInformation,
  Selector,
} from '../engine/types.js';
import { OprocError, usageError } from '../errors.js';
import { displayPath, readInformationFile } from './json-file.js';
import { checkReferences, runTypeEntryKey, type Provenance } from './references.js';
import { validateInformationList, where } from './validate.js';

declare module '@oclif/core' {
  interface Hooks {
    'oproc:modules': { options: Record<string, never>; return: ModulesContribution };
  }
}

export const runTypeSelectorName = 'run-type';

/** The default selector: the union of `modules_for_run_type` over the run's set bits, in processing_modules order. */
export const runTypeSelector: Selector = (run, info) => {
  const wanted = new Set(run.run_type_names.flatMap((name) => info.modules_for_run_type[name] ?? []));
  return Object.keys(info.processing_modules).filter((module) => wanted.has(module));
};

export interface CatalogSource {
  /** Plugin name or JSON file. */
  source: string;
  contribution: ModulesContribution;
}

interface Version {
  info: ProcessingInformation;
  provenance: Provenance;
  /** Every plugin and file that gave information for this RAT version, in merge order. */
  sources: string[];
}

interface RegisteredSelector {
  selector: Selector;
  source: string;
}

/** Top-level fields whose values differ, for the conflict message. */
function differingFields(a: ModuleDefinition, b: ModuleDefinition): string[] {
  const fields = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...fields].filter((field) => !isDeepStrictEqual(a[field], b[field])).sort();
}

/** The processing information of every RAT version, merged from the module plugins and the config's JSON files. */
export class ModuleCatalog {
  private readonly versions = new Map<string, Version>();
  private readonly selectors = new Map<string, RegisteredSelector>([
    [runTypeSelectorName, { selector: runTypeSelector, source: 'oproc' }],
  ]);

  /** The module plugins the config uses (set by `load`). */
  private plugins: string[] = [];

  private constructor() {}

  /** Collects `oproc:modules` hook results from all plugins plus the config's JSON files. */
  static async load(oclif: Config, config: OprocConfig): Promise<ModuleCatalog> {
    const used = usedModulePlugins(oclif, config);
    const plugins = await pluginSources(oclif, used);
    const files = await Promise.all(
      config.processingInformationFiles.map(async (file) => ({
        source: displayPath(file),
        contribution: { processing_information: await readInformationFile(file) },
      })),
    );
    const catalog = ModuleCatalog.fromSources([...plugins, ...files]);
    catalog.plugins = [...used];
    return catalog;
  }

  /** The module plugins the config uses: those its `module_plugins` names, else every installed one. */
  modulePlugins(): string[] {
    return [...this.plugins];
  }

  static fromSources(sources: CatalogSource[]): ModuleCatalog {
    return ModuleCatalog.check(sources);
  }

  /** Validates and merges contributions of any shape (plugins written in JavaScript, imported files). */
  static check(sources: { source: string; contribution: unknown }[]): ModuleCatalog {
    const catalog = new ModuleCatalog();
    for (const { source, contribution } of sources) catalog.add(source, contribution);
    for (const version of catalog.versions.values()) {
      orderRunTypeLists(version.info);
      checkReferences(version.info, version.provenance);
    }
    return catalog;
  }

  ratvs(): string[] {
    return [...this.versions.keys()].sort(compareVersions);
  }

  forRatv(ratv: string): ProcessingInformation {
    return structuredClone(this.version(ratv).info);
  }

  sourceOf(ratv: string, module: string): string {
    const source = this.version(ratv).provenance.modules.get(module);
    if (source === undefined) {
      const known = Object.keys(this.version(ratv).info.processing_modules).sort().join(', ');
      throw usageError(`RAT version ${ratv} has no module "${module}" (modules: ${known || 'none'})`);
    }
    return source;
  }

  /** The plugins and files that gave information for a RAT version, in merge order. */
  sourcesOf(ratv: string): string[] {
    return [...this.version(ratv).sources];
  }

  selector(name: string): Selector {
    const entry = this.selectors.get(name);
    if (!entry) {
      throw usageError(`unknown selector "${name}" (available: ${this.selectorNames().join(', ')})`);
    }
    return entry.selector;
  }

  selectorNames(): string[] {
    return [...this.selectors.keys()].sort();
  }

  /** The plugin that gave a selector (`oproc` for the built-in one). */
  selectorSource(name: string): string | undefined {
    return this.selectors.get(name)?.source;
  }

  private version(ratv: string): Version {
    const version = this.versions.get(ratv);
    if (!version) {
      const known = this.ratvs();
      throw usageError(
        `no processing information for RAT version ${ratv} (versions with processing information: ${known.join(', ') || 'none'})`,
        ...howToProvide(ratv),
      );
    }
    return version;
  }

  private add(source: string, contribution: unknown): void {
    if (contribution === undefined || contribution === null) return;
    if (typeof contribution !== 'object' || Array.isArray(contribution)) {
      throw usageError(`${where(source)}: the oproc:modules hook must return an object`);
    }
    const { processing_information: list, selectors } = contribution as Record<string, unknown>;
    if (list !== undefined) {
      for (const info of validateInformationList(source, list)) this.merge(source, info);
    }
    if (selectors !== undefined) this.addSelectors(source, selectors);
  }

  private merge(source: string, info: ProcessingInformation): void {
    let version = this.versions.get(info.ratv);
    if (!version) {
      version = {
        info: { ratv: info.ratv, processing_modules: {}, modules_for_run_type: {} },
        provenance: { modules: new Map(), runTypeEntries: new Map() },
        sources: [],
      };
      this.versions.set(info.ratv, version);
    }
    if (!version.sources.includes(source)) version.sources.push(source);
    for (const [name, definition] of Object.entries(info.processing_modules)) {
      mergeModule(version, source, name, definition);
    }
    for (const [runType, modules] of Object.entries(info.modules_for_run_type)) {
      const list = (version.info.modules_for_run_type[runType] ??= []);
      for (const module of modules) {
        if (!list.includes(module)) list.push(module);
        if (!version.provenance.runTypeEntries.has(runTypeEntryKey(runType, module))) {
          version.provenance.runTypeEntries.set(runTypeEntryKey(runType, module), source);
        }
      }
    }
  }

  private addSelectors(source: string, selectors: unknown): void {
    if (selectors === null || typeof selectors !== 'object' || Array.isArray(selectors)) {
      throw usageError(`${where(source)}: selectors must be an object of functions`);
    }
    for (const [name, selector] of Object.entries(selectors)) {
      if (typeof selector !== 'function') {
        throw usageError(`${where(source)}: selector "${name}" must be a function`);
      }
      const existing = this.selectors.get(name);
      if (existing) {
        throw usageError(`selector "${name}" is defined by two sources: ${existing.source} and ${source}`);
      }
      this.selectors.set(name, { selector: selector as Selector, source });
    }
  }
}

function mergeModule(version: Version, source: string, name: string, definition: ModuleDefinition): void {
  const existing = version.info.processing_modules[name];
  if (!existing) {
    version.info.processing_modules[name] = definition;
    version.provenance.modules.set(name, source);
    return;
  }
  if (isDeepStrictEqual(existing, definition)) return;
  const first = version.provenance.modules.get(name) ?? '?';
  throw usageError(
    `ratv ${version.info.ratv}: module ${name} is defined differently by ${first} and ${source} ` +
      `(differing fields: ${differingFields(existing, definition).join(', ')})`,
    'Remove one definition, or make them identical.',
  );
}

/** Run-type lists read in processing_modules order, whichever source listed a module first. */
function orderRunTypeLists(info: ProcessingInformation): void {
  const order = Object.keys(info.processing_modules);
  const rank = (module: string) => {
    const at = order.indexOf(module);
    return at < 0 ? order.length : at;
  };
  for (const list of Object.values(info.modules_for_run_type)) list.sort((a, b) => rank(a) - rank(b));
}

/** `7.0.8` before `7.0.15`: numeric parts compare as numbers. */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The three ways a site brings the processing information of a RAT version. */
function howToProvide(ratv: string): string[] {
  const file = `processing_information_${ratv.replaceAll('.', '_')}.py`;
  return [
    `Import the experiment's file: oproc modules import ${file} > ${ratv}.json`,
    `Name that JSON file in the config key "processing_information" (a file or a list of files)`,
    'Or install a module plugin that provides it (oproc plugins install|link), named in the config key "module_plugins" if the config has one',
  ];
}

/** The installed plugins that have an `oproc:modules` hook, in the order oclif loaded them. */
export function installedModulePlugins(oclif: Config): string[] {
  return [...oclif.plugins.values()]
    .filter((plugin) => (plugin.hooks['oproc:modules']?.length ?? 0) > 0)
    .map((plugin) => plugin.name);
}

/**
 * The module plugins a config uses: those named in its `module_plugins`, or every installed one
 * when it names none. A name that is not an installed module plugin is a config error.
 */
export function usedModulePlugins(oclif: Config, config: OprocConfig): Set<string> {
  const installed = installedModulePlugins(oclif);
  if (config.modulePlugins === undefined) return new Set(installed);
  for (const name of config.modulePlugins) {
    if (installed.includes(name)) continue;
    const why = oclif.plugins.has(name) ? 'is installed but has no oproc:modules hook' : 'is not installed';
    throw configError(
      config.file,
      'module_plugins',
      `"${name}" ${why} (installed module plugins: ${installed.join(', ') || 'none'})`,
    );
  }
  return new Set(config.modulePlugins);
}

/** Hook results of the config's module plugins in the order oclif loaded them, so merging does not depend on timing. */
async function pluginSources(oclif: Config, used: Set<string>): Promise<CatalogSource[]> {
  const all = await oclif.runHook('oproc:modules', {});
  const successes = all.successes.filter(({ plugin }) => used.has(plugin.name));
  const failure = all.failures.find(({ plugin }) => used.has(plugin.name));
  if (failure) {
    throw new OprocError(`module plugin ${failure.plugin.name} failed to load: ${failure.error.message}`);
  }
  // oclif loads user plugins before core ones: list first-party modules first, then the rest as loaded.
  const rank = (name: string) => {
    const plugin = oclif.plugins.get(name);
    return (plugin?.type === 'core' ? 0 : 1000) + [...oclif.plugins.keys()].indexOf(name);
  };
  return successes
    .map(({ plugin, result }) => ({ source: plugin.name, contribution: result }))
    .sort((a, b) => rank(a.source) - rank(b.source));
}
