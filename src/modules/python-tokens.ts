import { OprocError } from '../errors.js';

/** A syntax problem in a Python file, at FILE:LINE:COLUMN (1-based). Exit 2, like every usage error. */
export class PythonSyntaxError extends OprocError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${column}: ${problem}`);
    this.name = 'PythonSyntaxError';
  }
}

export type TokenKind = 'name' | 'number' | 'string' | 'op' | 'newline' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The source text of the token (for strings: with prefix and quotes). */
  text: string;
  /** Decoded value of a string token; undefined for f-strings and bytes, which are not plain literals. */
  value?: string;
  /** Why a string token is not a plain literal (f-string, bytes). */
  notLiteral?: string;
  offset: number;
  line: number;
  column: number;
}

export interface TokenStream {
  tokens: Token[];
  error(offset: number, problem: string): PythonSyntaxError;
}

const opening = new Set(['(', '[', '{']);
const closing = new Set([')', ']', '}']);
const stringPrefixes = new Set(['r', 'u', 'b', 'f', 'br', 'rb', 'fr', 'rf']);
const simpleEscapes: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** Positions to line and column, computed once per file. */
class Positions {
  private readonly lineStarts = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') this.lineStarts.push(i + 1);
  }

  at(offset: number): { line: number; column: number } {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - this.lineStarts[low]! + 1 };
  }
}

/**
 * Splits Python source into tokens. Newlines are emitted only between logical lines (not inside
 * brackets, not after a backslash continuation); `;` at bracket depth 0 also ends a logical line.
 * Unknown punctuation becomes single-character `op` tokens: statements oproc skips need only balance.
 */
export class Tokenizer {
  private pos = 0;
  private depth = 0;
  private readonly tokens: Token[] = [];
  private readonly positions: Positions;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {
    this.positions = new Positions(text);
  }

  /** The tokens of a file, and a way to report a problem at any offset of it. */
  static tokenize(text: string, file: string): TokenStream {
    const tokenizer = new Tokenizer(text.replace(/\r\n?/g, '\n'), file);
    return { tokens: tokenizer.run(), error: (offset, problem) => tokenizer.error(offset, problem) };
  }

  error(offset: number, problem: string): PythonSyntaxError {
    const { line, column } = this.positions.at(offset);
    return new PythonSyntaxError(this.file, line, column, problem);
  }

  private run(): Token[] {
    while (this.pos < this.text.length) this.step();
    this.newline(this.pos);
    this.push('eof', '', this.pos);
    return this.tokens;
  }

  private push(kind: TokenKind, text: string, offset: number, extra: Partial<Token> = {}): void {
    this.tokens.push({ kind, text, offset, ...this.positions.at(offset), ...extra });
  }

  /** Ends a logical line; `text` is ";" when a semicolon ended it (the next statement is on the same line). */
  private newline(offset: number, text = ''): void {
    const last = this.tokens.at(-1);
    if (last && last.kind !== 'newline') this.push('newline', text, offset);
  }

  private step(): void {
    const c = this.text[this.pos]!;
    const start = this.pos;
    if (c === ' ' || c === '\t' || c === '\f') this.pos++;
    else if (c === '#') this.skipComment();
    else if (c === '\n') {
      if (this.depth === 0) this.newline(start);
      this.pos++;
    } else if (c === '\\') this.continuation();
    else if (c === '"' || c === "'") this.string(start, '');
    else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(this.text[start + 1] ?? ''))) this.number();
    else if (/[\p{L}_]/u.test(c)) this.nameOrString();
    else this.punctuation(c);
  }

  private skipComment(): void {
    const end = this.text.indexOf('\n', this.pos);
    this.pos = end < 0 ? this.text.length : end;
  }

  private continuation(): void {
    if (this.text[this.pos + 1] !== '\n') {
      throw this.error(this.pos, 'a backslash outside a string must end the line (line continuation)');
    }
    this.pos += 2;
  }

  private punctuation(c: string): void {
    if (opening.has(c)) this.depth++;
    if (closing.has(c)) {
      if (this.depth === 0) throw this.error(this.pos, `unmatched "${c}"`);
      this.depth--;
    }
    if (c === ';' && this.depth === 0) this.newline(this.pos, ';');
    else this.push('op', c, this.pos);
    this.pos++;
  }

  private number(): void {
    const match = /^(?:0[xXoObB][0-9a-fA-F_]+|(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?)[jJlL]?/.exec(
      this.text.slice(this.pos),
    );
    const text = match![0];
    this.push('number', text, this.pos);
    this.pos += text.length;
  }

  private nameOrString(): void {
    const start = this.pos;
    const text = /^[\p{L}\p{N}_]+/u.exec(this.text.slice(start))![0];
    const quote = this.text[start + text.length];
    if ((quote === '"' || quote === "'") && stringPrefixes.has(text.toLowerCase())) {
      this.pos = start + text.length;
      this.string(start, text.toLowerCase());
      return;
    }
    this.push('name', text, start);
    this.pos = start + text.length;
  }

  /** A string literal starting at `start` (its prefix, if any, already read up to the quote at `this.pos`). */
  private string(start: number, prefix: string): void {
    const quote = this.text[this.pos]!;
    const triple = this.text.startsWith(quote.repeat(3), this.pos);
    const delimiter = triple ? quote.repeat(3) : quote;
    const bodyStart = this.pos + delimiter.length;
    let i = bodyStart;
    for (;;) {
      if (i >= this.text.length || (!triple && this.text[i] === '\n')) {
        throw this.error(start, `unterminated string literal (the ${delimiter} opened here is never closed)`);
      }
      if (this.text[i] === '\\') i += 2;
      else if (this.text.startsWith(delimiter, i)) break;
      else i++;
    }
    const body = this.text.slice(bodyStart, i);
    this.pos = i + delimiter.length;
    const token: Partial<Token> = {};
    if (prefix.includes('b')) token.notLiteral = 'bytes literals are not text';
    else if (prefix.includes('f')) token.notLiteral = 'f-strings are not literals';
    else token.value = prefix.includes('r') ? body : this.unescape(body, bodyStart);
    this.push('string', this.text.slice(start, this.pos), start, token);
  }

  private unescape(body: string, offset: number): string {
    let out = '';
    for (let i = 0; i < body.length; i++) {
      if (body[i] !== '\\') {
        out += body[i];
        continue;
      }
      const [decoded, length] = this.escape(body, i + 1, offset + i);
      out += decoded;
      i += length;
    }
    return out;
  }

  /** Decodes the escape after a backslash at `at`; returns the text and how many characters it used. */
  private escape(body: string, at: number, offset: number): [string, number] {
    const c = body[at] ?? '';
    if (c === '\n') return ['', 1];
    if (c in simpleEscapes) return [simpleEscapes[c]!, 1];
    const octal = /^[0-7]{1,3}/.exec(body.slice(at));
    if (octal) return [String.fromCodePoint(parseInt(octal[0], 8)), octal[0].length];
    const width = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
    if (width > 0) {
      const hex = body.slice(at + 1, at + 1 + width);
      const code = /^[0-9a-fA-F]+$/.test(hex) && hex.length === width ? parseInt(hex, 16) : NaN;
      if (!(code <= 0x10ffff)) throw this.error(offset, `invalid \\${c} escape: needs ${width} hex digits`);
      return [String.fromCodePoint(code), 1 + width];
    }
    if (c === 'N')
      throw this.error(offset, 'named escapes (\\N{...}) are not supported; write the character');
    // Python keeps unknown escapes as written.
    return ['\\' + c, 1];
  }
}
