import { readFile } from 'node:fs/promises';

import { usageError } from '../errors.js';
import type { RunNumber } from './types.js';

/** Largest run number: RATDB keeps runs in a PostgreSQL `int`. */
export const maxRunNumber = 2 ** 31 - 1;

/** Parses a run number given on the command line or in a file; the message names where. */
export function parseRun(text: string, where: string): RunNumber {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) throw usageError(`${where}: "${trimmed.slice(0, 40)}" is not a run number`);
  const run = Number(trimmed);
  if (run > maxRunNumber)
    throw usageError(`${where}: run ${trimmed} is out of range (at most ${maxRunNumber})`);
  return run;
}

/**
 * Parses a runlist: one run per line; blank lines and `#` comments (whole-line or trailing) are
 * allowed. Anything else is an error naming the line. Duplicates are dropped, first one kept.
 */
export function parseRunlist(text: string, source: string): RunNumber[] {
  if (text.includes('\u0000')) throw usageError(`runlist ${source}: binary data, not a list of run numbers`);
  const runs: RunNumber[] = [];
  const seen = new Set<RunNumber>();
  text.split(/\r?\n/).forEach((line, i) => {
    const content = line.replace(/#.*$/, '').trim();
    if (content === '') return;
    const run = parseRun(content, `runlist ${source}, line ${i + 1}`);
    if (!seen.has(run)) {
      seen.add(run);
      runs.push(run);
    }
  });
  return runs;
}

async function readStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text;
}

/** Reads and parses a runlist file (`-`: standard input); an unreadable or empty list is a usage error. */
export async function readRunlist(file: string): Promise<RunNumber[]> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw usageError(
      `cannot read runlist ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  const runs = parseRunlist(text, file === '-' ? '(stdin)' : file);
  if (runs.length === 0) throw usageError(`runlist ${file} lists no runs`);
  return runs;
}
