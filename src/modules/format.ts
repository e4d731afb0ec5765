import type { ProcessingInformation } from '../engine/types.js';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

const list = (items: string[]) => (items.length > 0 ? items.join(', ') : '-');

/** The modules of one RAT version, with the source of each. */
export function modulesTable(info: ProcessingInformation, sourceOf: (module: string) => string): string[] {
  const rows = Object.entries(info.processing_modules).map(([name, module]) => [
    name,
    module.level,
    module.path,
    list(module.prerequisites),
    list(module.ratdb_tables),
    sourceOf(name),
  ]);
  return table(['MODULE', 'LEVEL', 'PATH', 'PREREQUISITES', 'RATDB TABLES', 'SOURCE'], rows);
}

/** Run type name to modules, in the order the names were given. */
export function runTypeTable(info: ProcessingInformation): string[] {
  const rows = Object.entries(info.modules_for_run_type).map(([runType, modules]) => [
    runType,
    list(modules),
  ]);
  return table(['RUN TYPE', 'MODULES'], rows);
}
