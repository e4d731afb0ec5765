import { readFile } from 'node:fs/promises';
import path from 'node:path';

import type { ProcessingInformation } from '../engine/types.js';
import { usageError } from '../errors.js';
import { validateInformationList } from './validate.js';

/** How a file is named in messages and in `sourceOf`: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** Turns JSON.parse's "at position N" into a line and column. */
export function jsonPosition(text: string, message: string): string {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return `:${lineColumn[1]}:${lineColumn[2]}`;
  const match = /position (\d+)/.exec(message);
  if (!match) return '';
  const before = text.slice(0, Number(match[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `:${line}:${column}`;
}

function readError(file: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : String(error);
  return usageError(`cannot read processing information file ${file}: ${why}`);
}

/** A config-named JSON file of processing information: one object, or an array of them. */
export async function readInformationFile(file: string): Promise<ProcessingInformation[]> {
  const shown = displayPath(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw readError(shown, error);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    throw usageError(
      `processing information file ${shown}${jsonPosition(text, message)}: invalid JSON: ${message}`,
    );
  }
  return validateInformationList(shown, raw);
}
