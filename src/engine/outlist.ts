import { appendFile, readFile } from 'node:fs/promises';

import { usageError } from '../errors.js';
import type { RunNumber } from './types.js';

export interface OutlistEntry {
  module: string;
  run: RunNumber;
  pass: number;
}

/** One line per created pass, `MODULE<TAB>RUN<TAB>PASS`, as `processing_list --exactly` reads. */
export function formatOutlist(entries: readonly OutlistEntry[]): string {
  return entries.map((e) => `${e.module}\t${e.run}\t${e.pass}\n`).join('');
}

export async function appendOutlist(file: string, entries: readonly OutlistEntry[]): Promise<void> {
  if (entries.length) await appendFile(file, formatOutlist(entries));
}

/** Reads an outlist file (see `parseOutlist`). */
export async function readOutlist(file: string): Promise<OutlistEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw usageError(
      `cannot read outlist ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  return parseOutlist(text, file);
}

/**
 * An outlist's passes: three fields per line, any whitespace between them; blank lines and `#`
 * comments allowed. A line of another form is a usage error naming `name` and the line.
 */
export function parseOutlist(text: string, name: string): OutlistEntry[] {
  const entries: OutlistEntry[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const content = line.replace(/#.*$/, '').trim();
    if (!content) return;
    const fields = content.split(/\s+/);
    const [module, run, pass] = fields;
    if (fields.length !== 3 || !/^\d+$/.test(run!) || !/^\d+$/.test(pass!)) {
      throw usageError(
        `outlist ${name}, line ${i + 1}: expected MODULE RUN PASS, found "${content.slice(0, 60)}"`,
      );
    }
    entries.push({ module: module!, run: Number(run), pass: Number(pass) });
  });
  return entries;
}
