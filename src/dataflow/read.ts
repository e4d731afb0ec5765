import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

import { usageError } from '../errors.js';
import { checkDocument, type DataflowDocument, type DocumentProblem } from './documents.js';

/** How many problems one error message lists before it says "and N more". */
const maxProblemsShown = 20;

interface Located {
  document: DataflowDocument;
  file: string;
  index: number;
  line?: number;
}

interface Problem extends DocumentProblem {
  file: string;
  /** Line of an NDJSON file, where the problem is a line's. */
  line?: number;
}

/**
 * Reads and validates every document of every file before anything is written, so bad input
 * changes nothing. A file is a JSON array of documents, or NDJSON (one document per line).
 * Throws a usage error listing each problem with its file, document and field.
 */
export async function readDataflowFiles(files: readonly string[]): Promise<DataflowDocument[]> {
  const problems: Problem[] = [];
  const located: Located[] = [];
  for (const file of files) {
    for (const entry of await readEntries(file, problems)) {
      const checked = checkDocument(entry.value, entry.index);
      if (checked.ok)
        located.push({ document: checked.document, file, index: entry.index, line: entry.line });
      else problems.push({ ...checked.problem, file, line: entry.line });
    }
  }
  const documents = deduplicate(located, problems);
  if (problems.length > 0)
    throw usageError(
      describeProblems(problems),
      'fix the files and run the import again (nothing was written)',
    );
  return documents;
}

interface Entry {
  value: unknown;
  index: number;
  line?: number;
}

async function readEntries(file: string, problems: Problem[]): Promise<Entry[]> {
  let first: string | undefined;
  try {
    first = await firstCharacter(file);
  } catch (error) {
    problems.push({
      file,
      index: -1,
      field: '',
      problem: `cannot be read: ${readProblem(error as NodeJS.ErrnoException)}`,
    });
    return [];
  }
  if (first === undefined) {
    problems.push({
      file,
      index: -1,
      field: '',
      problem: 'is empty (expected a JSON array or one document per line)',
    });
    return [];
  }
  if (first === '[') return readJsonArray(file, problems);
  return readNdjson(file, problems);
}

/** The first non-blank character (undefined: blank file), to tell a JSON array from NDJSON cheaply. */
async function firstCharacter(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  try {
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    for (let position = 0; ; position += buffer.length) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return undefined;
      // A byte-order mark (editors on Windows write one) is not content.
      const match = /[^\s\uFEFF]/.exec(decoder.decode(buffer.subarray(0, bytesRead)));
      if (match) return match[0];
    }
  } finally {
    await handle.close();
  }
}

async function readJsonArray(file: string, problems: Problem[]): Promise<Entry[]> {
  const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    problems.push({
      file,
      index: -1,
      field: '',
      problem: `invalid JSON${jsonPosition(text, error as Error)}`,
    });
    return [];
  }
  return (value as unknown[]).map((item, index) => ({ value: item, index }));
}

async function readNdjson(file: string, problems: Problem[]): Promise<Entry[]> {
  const entries: Entry[] = [];
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of lines) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    const index = entries.length;
    try {
      entries.push({ value: JSON.parse(text), index, line });
    } catch (error) {
      problems.push({
        file,
        index,
        line,
        field: '',
        problem: `invalid JSON${jsonPosition(text, error as Error, false)}`,
      });
    }
  }
  return entries;
}

/** The same `_id` twice is allowed when both copies are identical; different copies are a problem. */
function deduplicate(located: readonly Located[], problems: Problem[]): DataflowDocument[] {
  const byId = new Map<string, Located>();
  for (const entry of located) {
    const earlier = byId.get(entry.document._id);
    if (!earlier) {
      byId.set(entry.document._id, entry);
    } else if (canonicalJson(earlier.document) !== canonicalJson(entry.document)) {
      problems.push({
        file: entry.file,
        index: entry.index,
        line: entry.line,
        id: entry.document._id,
        field: '_id',
        problem: `is also ${where(earlier)} with different content`,
      });
    }
  }
  return [...byId.values()].map((entry) => entry.document);
}

function where(entry: Located): string {
  return entry.line !== undefined
    ? `in ${entry.file} line ${entry.line}`
    : `in ${entry.file}[${entry.index}]`;
}

function describeProblems(problems: readonly Problem[]): string {
  const lines = problems.slice(0, maxProblemsShown).map(describeProblem);
  if (problems.length > maxProblemsShown)
    lines.push(`... and ${problems.length - maxProblemsShown} more problems`);
  const heading =
    problems.length === 1 ? 'invalid data-flow document' : `${problems.length} invalid data-flow documents`;
  return `${heading}:\n  ${lines.join('\n  ')}`;
}

function describeProblem(p: Problem): string {
  // Array items are named by their 0-based index, as in the JSON; NDJSON documents by line.
  const at = [
    p.line !== undefined ? `${p.file} line ${p.line}` : p.index >= 0 ? `${p.file}[${p.index}]` : p.file,
  ];
  if (p.id !== undefined) at.push(`(${p.id})`);
  const field = p.field ? `${p.field} ` : '';
  return `${at.join(' ')}: ${field}${p.problem}`;
}

/** JSON.parse's "at position N" as a line and column, which an editor can go to. */
function jsonPosition(text: string, error: Error, withLine = true): string {
  const match = /position (\d+)/.exec(error.message);
  const reason = error.message.replace(/ in JSON at position \d+.*$/s, '').replace(/\s+/g, ' ');
  if (!match) return `: ${reason}`;
  const before = text.slice(0, Number(match[1]));
  const line = withLine ? ` line ${before.split('\n').length},` : '';
  return ` at${line} column ${before.length - before.lastIndexOf('\n')}: ${reason}`;
}

function readProblem(error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOENT') return 'no such file';
  if (error.code === 'EACCES') return 'permission denied';
  if (error.code === 'EISDIR') return 'is a directory';
  return error.message;
}

/** JSON with object keys sorted, so documents compare by content, not by key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(
          Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : item,
  );
}
