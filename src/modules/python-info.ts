import path from 'node:path';

import { usageError } from '../errors.js';
import { LiteralParser, type JsonValue } from './python-literal.js';
import { Tokenizer, type Token, type TokenStream } from './python-tokens.js';
import { ModuleCatalog } from './catalog.js';

/** The two assignments a processing_information_X_Y_Z.py file is read for. */
export const wantedNames = ['processing_modules', 'modules_for_run_type'] as const;
type Wanted = (typeof wantedNames)[number];

export interface SkippedStatement {
  line: number;
  column: number;
  /** The statement's first word, e.g. `print`, `if`. */
  start: string;
}

/** `processing_information_7_0_8.py` is RAT version 7.0.8. */
export function ratvFromFileName(file: string): string | undefined {
  const match = /^processing_information_(\d+(?:_\d+)+)\.py$/.exec(path.basename(file));
  return match ? match[1]!.replace(/_/g, '.') : undefined;
}

/** Splits the token stream into logical lines (statements), each without its newline token. */
function statements(tokens: Token[]): { start: number; end: number }[] {
  const result: { start: number; end: number }[] = [];
  let start = 0;
  tokens.forEach((token, i) => {
    if (token.kind !== 'newline' && token.kind !== 'eof') return;
    if (i > start) result.push({ start, end: i });
    start = i + 1;
  });
  return result;
}

const isWanted = (text: string): text is Wanted => (wantedNames as readonly string[]).includes(text);

class FileReader {
  readonly values = new Map<Wanted, { value: JsonValue; at: Token }>();
  /** Other top-level `NAME = literal` assignments, usable by name inside the two (shared lists, say). */
  readonly constants = new Map<string, JsonValue>();
  readonly skipped: SkippedStatement[] = [];

  constructor(private readonly stream: TokenStream) {}

  read(): void {
    for (const { start, end } of statements(this.stream.tokens)) this.statement(start, end);
  }

  private statement(start: number, end: number): void {
    const tokens = this.stream.tokens;
    const first = tokens[start]!;
    // Indented statements belong to a block (if, def, ...) whose effect a literal reader cannot follow.
    const topLevel = first.column === 1 || tokens[start - 1]?.text === ';';
    const isOp = (i: number, text: string) => tokens[i]?.kind === 'op' && tokens[i]?.text === text;
    const assignment = topLevel && first.kind === 'name' && isOp(start + 1, '=') && !isOp(start + 2, '=');
    if (assignment && isWanted(first.text)) return this.wanted(first, start + 2, end);
    const mention = tokens.slice(start, end).find((t) => t.kind === 'name' && isWanted(t.text));
    if (mention) {
      throw this.stream.error(
        mention.offset,
        `only "${mention.text} = <literal>" at the top level is read; this statement could change it unseen`,
      );
    }
    if (assignment) return this.constant(first.text, start + 2, end);
    const quiet =
      first.kind === 'string' || (first.kind === 'name' && ['import', 'from'].includes(first.text));
    if (topLevel && !quiet) this.skip(first);
  }

  private skip(first: Token): void {
    this.skipped.push({ line: first.line, column: first.column, start: first.text });
  }

  private parseValue(start: number, end: number): JsonValue {
    const parser = new LiteralParser(this.stream, this.constants, start);
    const value = parser.value();
    if (parser.pos !== end) {
      const extra = parser.peek();
      throw parser.error(extra, `unexpected "${extra.text}" after the value (only a literal is read here)`);
    }
    return value;
  }

  private wanted(name: Token, start: number, end: number): void {
    const earlier = this.values.get(name.text as Wanted);
    if (earlier) {
      throw this.stream.error(
        name.offset,
        `${name.text} is assigned twice (first at line ${earlier.at.line}, column ${earlier.at.column})`,
      );
    }
    this.values.set(name.text as Wanted, { value: this.parseValue(start, end), at: name });
  }

  /** Other assignments are remembered when they are literals and otherwise ignored. */
  private constant(name: string, start: number, end: number): void {
    try {
      this.constants.set(name, this.parseValue(start, end));
    } catch {
      this.constants.delete(name);
    }
  }
}

/** The JSON form `oproc modules import` prints: the file's own fields, sets as sorted arrays. */
export interface ImportedInformation {
  ratv: string;
  processing_modules: JsonValue;
  modules_for_run_type: JsonValue;
}

/**
 * Reads `processing_modules = {...}` and `modules_for_run_type = {...}` from a
 * processing_information_X_Y_Z.py file as literals (never executing it) and validates the result
 * as the catalog would (fields, run type names, prerequisites and run-type lists within the file).
 */
export function readPythonInformation(
  text: string,
  file: string,
  ratv: string,
): { info: ImportedInformation; skipped: SkippedStatement[] } {
  const reader = new FileReader(Tokenizer.tokenize(text, file));
  reader.read();
  const value = (name: Wanted) => {
    const found = reader.values.get(name);
    if (!found) throw usageError(`${file}: has no top-level "${name} = ..." assignment`);
    return found.value;
  };
  const info = {
    ratv,
    processing_modules: value('processing_modules'),
    modules_for_run_type: value('modules_for_run_type'),
  };
  ModuleCatalog.check([{ source: file, contribution: { processing_information: [info] } }]);
  return { info, skipped: reader.skipped };
}
