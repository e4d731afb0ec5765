/**
 * Splits a `.ratdb` file into its top-level tables. RAT writes several JSON5 objects one after
 * another (not an array), so each `{ ... }` is cut out here, respecting strings and comments, and
 * parsed on its own. Positions are 1-based, as editors show them.
 */

export interface Position {
  line: number;
  column: number;
}

export interface ScannedTable {
  /** The table's text, from `{` to its matching `}`. */
  text: string;
  start: Position;
  /** Where each top-level key of the table is written, for messages about its value. */
  keys: Map<string, Position>;
}

export interface ScanProblem {
  at: Position;
  problem: string;
}

class Cursor {
  index = 0;
  line = 1;
  column = 1;

  constructor(readonly text: string) {}

  get done(): boolean {
    return this.index >= this.text.length;
  }

  peek(ahead = 0): string {
    return this.text[this.index + ahead] ?? '';
  }

  next(): string {
    const ch = this.text[this.index++] ?? '';
    if (ch === '\n') {
      this.line++;
      this.column = 1;
    } else {
      this.column++;
    }
    return ch;
  }

  position(): Position {
    return { line: this.line, column: this.column };
  }
}

const identifierStart = /[A-Za-z_$]/;
const identifierPart = /[\w$]/;

/** Skips a comment at the cursor, if there is one. Returns a problem for an unclosed block comment. */
function skipComment(c: Cursor): ScanProblem | undefined | 'none' {
  if (c.peek() !== '/') return 'none';
  if (c.peek(1) === '/') {
    while (!c.done && c.peek() !== '\n') c.next();
    return undefined;
  }
  if (c.peek(1) === '*') {
    const at = c.position();
    c.next();
    c.next();
    while (!c.done && !(c.peek() === '*' && c.peek(1) === '/')) c.next();
    if (c.done) return { at, problem: 'comment is not closed: add */' };
    c.next();
    c.next();
    return undefined;
  }
  return 'none';
}

/** Skips whitespace and comments. */
function skipBlank(c: Cursor): ScanProblem | undefined {
  for (;;) {
    while (!c.done && /\s/.test(c.peek())) c.next();
    const comment = skipComment(c);
    if (comment === 'none') return undefined;
    if (comment !== undefined) return comment;
  }
}

/** Reads a quoted string; JSON5 strings end on their line unless the newline is escaped. */
function readString(c: Cursor): { value: string } | ScanProblem {
  const at = c.position();
  const quote = c.next();
  let value = '';
  while (!c.done) {
    const ch = c.peek();
    if (ch === quote) {
      c.next();
      return { value };
    }
    if (ch === '\n' || ch === '\r') break;
    if (ch === '\\') {
      c.next();
      value += c.next();
      continue;
    }
    value += c.next();
  }
  return { at, problem: `string is not closed: add the closing ${quote}` };
}

function readIdentifier(c: Cursor): string {
  let word = '';
  while (!c.done && identifierPart.test(c.peek())) word += c.next();
  return word;
}

/** After a broken table: moves past the next line that starts with `}` (its end), or to one starting with `{`. */
function skipToNextTable(c: Cursor): void {
  while (!c.done) {
    if (c.next() !== '\n') continue;
    if (c.peek() === '{') return;
    if (c.peek() === '}') {
      c.next();
      return;
    }
  }
}

/** Cuts out one table starting at `{`; records its top-level keys. */
function scanTable(c: Cursor): ScannedTable | ScanProblem {
  const start = c.position();
  const from = c.index;
  const keys = new Map<string, Position>();
  let depth = 0;
  let candidate: { name: string; at: Position } | undefined;
  while (!c.done) {
    const blank = skipBlank(c);
    if (blank) return blank;
    if (c.done) break;
    const ch = c.peek();
    const at = c.position();
    if (ch === '"' || ch === "'") {
      const read = readString(c);
      if ('problem' in read) return read;
      candidate = depth === 1 ? { name: read.value, at } : undefined;
      continue;
    }
    if (identifierStart.test(ch)) {
      const word = readIdentifier(c);
      candidate = depth === 1 ? { name: word, at } : undefined;
      continue;
    }
    c.next();
    if (ch === ':' && depth === 1 && candidate) keys.set(candidate.name, candidate.at);
    candidate = undefined;
    if (ch === '{' || ch === '[') depth++;
    if (ch === '}' || ch === ']') depth--;
    if (depth === 0) return { text: c.text.slice(from, c.index), start, keys };
  }
  return { at: start, problem: 'table is not closed: a } is missing' };
}

/** A short quote of stray text, for messages. */
function quoteAt(c: Cursor): string {
  const rest = c.text.slice(c.index).split(/\s/, 1)[0] ?? '';
  return rest.length > 20 ? `${rest.slice(0, 20)}...` : rest;
}

/** Splits a file's text into tables; problems are collected so that every one can be reported. */
export function scanTables(text: string): { tables: ScannedTable[]; problems: ScanProblem[] } {
  const c = new Cursor(text.replace(/^\uFEFF/, ''));
  const tables: ScannedTable[] = [];
  const problems: ScanProblem[] = [];
  while (!c.done) {
    const blank = skipBlank(c);
    if (blank) {
      problems.push(blank);
      break;
    }
    if (c.done) break;
    if (c.peek() !== '{') {
      problems.push({
        at: c.position(),
        problem: `unexpected "${quoteAt(c)}" between tables: each table is { ... }`,
      });
      skipToNextTable(c);
      continue;
    }
    const scanned = scanTable(c);
    if ('problem' in scanned) {
      problems.push(scanned);
      skipToNextTable(c);
    } else {
      tables.push(scanned);
    }
  }
  return { tables, problems };
}
