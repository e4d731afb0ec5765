import type { ProcessingInformation } from '../engine/types.js';
import { usageError } from '../errors.js';
import { where } from './validate.js';

/** Where each part of one RAT version's merged information came from. */
export interface Provenance {
  /** Module name to the source that defined it (the first, when several agree). */
  modules: Map<string, string>;
  /** `runType\tmodule` to the first source that listed the module for the run type. */
  runTypeEntries: Map<string, string>;
}

export const runTypeEntryKey = (runType: string, module: string) => `${runType}\t${module}`;

function known(info: ProcessingInformation): string {
  return Object.keys(info.processing_modules).sort().join(', ') || 'none';
}

function checkPrerequisites(info: ProcessingInformation, provenance: Provenance): void {
  for (const [name, definition] of Object.entries(info.processing_modules)) {
    for (const prerequisite of definition.prerequisites) {
      if (info.processing_modules[prerequisite]) continue;
      const source = provenance.modules.get(name) ?? '?';
      throw usageError(
        `${where(source, info.ratv, name)}: prerequisite "${prerequisite}" is not a module of ${info.ratv} (modules: ${known(info)})`,
      );
    }
  }
}

function checkRunTypes(info: ProcessingInformation, provenance: Provenance): void {
  for (const [runType, modules] of Object.entries(info.modules_for_run_type)) {
    for (const module of modules) {
      if (info.processing_modules[module]) continue;
      const source = provenance.runTypeEntries.get(runTypeEntryKey(runType, module)) ?? '?';
      throw usageError(
        `${where(source, info.ratv)}: modules_for_run_type.${runType}: "${module}" is not a module of ${info.ratv} (modules: ${known(info)})`,
      );
    }
  }
}

/** A prerequisite cycle would leave every pass in it waiting for ever. */
function checkCycles(info: ProcessingInformation, provenance: Provenance): void {
  const done = new Set<string>();
  const visit = (name: string, trail: string[]): void => {
    if (done.has(name)) return;
    const at = trail.indexOf(name);
    if (at >= 0) {
      const cycle = [...trail.slice(at), name].join(' -> ');
      const sources = [...new Set(trail.slice(at).map((m) => provenance.modules.get(m) ?? '?'))].join(', ');
      throw usageError(`${where(sources, info.ratv)}: prerequisites form a cycle: ${cycle}`);
    }
    for (const prerequisite of info.processing_modules[name]?.prerequisites ?? []) {
      visit(prerequisite, [...trail, name]);
    }
    done.add(name);
  };
  for (const name of Object.keys(info.processing_modules)) visit(name, []);
}

/** Prerequisites and run-type lists must name modules of the same RAT version, without cycles. */
export function checkReferences(info: ProcessingInformation, provenance: Provenance): void {
  checkPrerequisites(info, provenance);
  checkRunTypes(info, provenance);
  checkCycles(info, provenance);
}
