import { PythonSyntaxError, Tokenizer, type Token, type TokenStream } from './python-tokens.js';

export { PythonSyntaxError } from './python-tokens.js';

/** What a Python literal becomes in JSON: tuples and sets are arrays (sets sorted), dicts are objects, calls `{ call, args, kwargs }`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

interface Parsed {
  value: JsonValue;
  /** Python would accept it in a set: not a list, dict or set. */
  hashable: boolean;
}

const constants: Record<string, JsonValue> = { True: true, False: false, None: null };
const setCalls = new Set(['set', 'frozenset']);
/** Deep enough for any processing information; shallow enough that hostile input cannot exhaust the stack. */
const maxDepth = 200;

function describe(token: Token): string {
  if (token.kind === 'eof') return 'the end of the file';
  if (token.kind === 'newline') return 'the end of the statement';
  return `"${token.text}"`;
}

/** Order of JSON values in a converted set: by type, then numbers by value and the rest by text. */
function rank(value: JsonValue): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return 1;
  if (typeof value === 'number') return 2;
  if (typeof value === 'string') return 3;
  return 4;
}

export function compareJson(a: JsonValue, b: JsonValue): number {
  const byType = rank(a) - rank(b);
  if (byType !== 0) return byType;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const [x, y] = typeof a === 'string' ? [a, b as string] : [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A recursive-descent reader of Python literals over tokens: never evaluates anything. A call
 * `F(a, k=v)` (F a name or dotted name) becomes `{ call, args, kwargs }`; set()/frozenset() of a
 * collection is a sorted list. Names other than True/False/None and the caller's known constants
 * are errors.
 */
export class LiteralParser {
  pos = 0;
  private depth = 0;

  readonly tokens: Token[];

  constructor(
    private readonly stream: TokenStream,
    private readonly names: ReadonlyMap<string, JsonValue> = new Map(),
    start = 0,
  ) {
    this.tokens = stream.tokens;
    this.pos = start;
  }

  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)]!;
  }

  next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.pos++;
    return token;
  }

  isOp(text: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === 'op' && token.text === text;
  }

  error(token: Token, problem: string): PythonSyntaxError {
    return this.stream.error(token.offset, problem);
  }

  expectOp(text: string, opener?: Token): Token {
    const token = this.next();
    if (token.kind === 'op' && token.text === text) return token;
    const open = opener
      ? ` to close the "${opener.text}" at line ${opener.line}, column ${opener.column}`
      : '';
    throw this.error(token, `expected "${text}"${open}, found ${describe(token)}`);
  }

  /** After an item: a comma, or the closing bracket. Anything else is an expression, which is not read. */
  private separator(close: string, opener: Token): void {
    if (this.isOp(',') || this.isOp(close)) return;
    const token = this.peek();
    const expression = token.kind === 'op' || token.kind === 'name';
    const hint = expression
      ? ' (only literals and calls are read: no operators, subscripts or comprehensions)'
      : '';
    throw this.error(
      token,
      `expected "," or "${close}" in the "${opener.text}" at line ${opener.line}, column ${opener.column}, found ${describe(token)}${hint}`,
    );
  }

  /** One literal value. */
  value(): JsonValue {
    return this.parse().value;
  }

  private parse(): Parsed {
    const token = this.peek();
    if (++this.depth > maxDepth)
      throw this.error(token, `literals nested deeper than ${maxDepth} levels are not read`);
    try {
      return this.parseAt(token);
    } finally {
      this.depth--;
    }
  }

  private parseAt(token: Token): Parsed {
    if (token.kind === 'op' && (token.text === '-' || token.text === '+')) return this.signed();
    if (token.kind === 'string') return { value: this.strings(), hashable: true };
    if (token.kind === 'number') return { value: this.number(this.next()), hashable: true };
    if (token.kind === 'name') return this.name();
    if (token.kind === 'op' && token.text === '[') return this.list();
    if (token.kind === 'op' && token.text === '(') return this.parenthesized();
    if (token.kind === 'op' && token.text === '{') return this.braces();
    throw this.error(token, `expected a Python literal, found ${describe(token)}`);
  }

  private signed(): Parsed {
    const sign = this.next();
    const operand = this.peek();
    const inner = this.parse();
    if (typeof inner.value !== 'number') throw this.error(operand, `"${sign.text}" applies only to numbers`);
    return { value: sign.text === '-' ? -inner.value : inner.value, hashable: true };
  }

  /** Adjacent string literals join into one, as in Python. */
  private strings(): string {
    let text = '';
    while (this.peek().kind === 'string') {
      const token = this.next();
      if (token.value === undefined) throw this.error(token, token.notLiteral ?? 'not a string literal');
      text += token.value;
    }
    return text;
  }

  private number(token: Token): number {
    const text = token.text.replace(/_/g, '');
    if (/[jJ]$/.test(text)) throw this.error(token, `complex number ${token.text} has no JSON form`);
    const digits = text.replace(/[lL]$/, '');
    let value: number;
    if (/^0[xX]/.test(digits)) value = parseInt(digits.slice(2), 16);
    else if (/^0[oO]/.test(digits)) value = parseInt(digits.slice(2), 8);
    else if (/^0[bB]/.test(digits)) value = parseInt(digits.slice(2), 2);
    else if (/^0[0-9]+$/.test(digits) && /[1-9]/.test(digits)) {
      throw this.error(token, `leading zeros in ${token.text} are not allowed (write 0o... for octal)`);
    } else value = Number(digits);
    if (!Number.isFinite(value) || Number.isNaN(value))
      throw this.error(token, `invalid number ${token.text}`);
    const isInt = !/[.eE]/.test(digits) || /^0[xXoObB]/.test(digits);
    if (isInt && !Number.isSafeInteger(value))
      throw this.error(token, `integer ${token.text} is too large for JSON`);
    return value;
  }

  private name(): Parsed {
    const token = this.next();
    if (token.text in constants) return { value: constants[token.text]!, hashable: true };
    if (setCalls.has(token.text) && this.isOp('(')) return this.setCall();
    const callee = this.dottedName(token);
    if (this.isOp('(')) return this.call(callee);
    const known = callee === token.text ? this.names.get(callee) : undefined;
    if (known !== undefined)
      return { value: structuredClone(known), hashable: typeof known !== 'object' || known === null };
    throw this.error(
      token,
      `"${callee}" is not a literal (only literals and calls are read, nothing is evaluated)`,
    );
  }

  /** `PGSQLFile` or `Lib.Applications.PGSQLFile`: the name starting at `first` (already read). */
  private dottedName(first: Token): string {
    let text = first.text;
    while (this.isOp('.') && this.peek(1).kind === 'name') {
      this.next();
      text += `.${this.next().text}`;
    }
    return text;
  }

  /**
   * A call such as `PGSQLFile(namePattern = "CSS_*.ratdb", version = 1)`, read as data and never run:
   * `{ "call": "PGSQLFile", "args": [...], "kwargs": {...} }`, so a grid client can rebuild the object.
   */
  private call(callee: string): Parsed {
    const open = this.expectOp('(');
    const args: JsonValue[] = [];
    const kwargs: [string, JsonValue][] = [];
    const seen = new Map<string, Token>();
    while (!this.isOp(')')) {
      const token = this.peek();
      if (token.kind === 'op' && token.text === '*') {
        throw this.error(token, `*args and **kwargs in the call to ${callee} are not read; write the values`);
      }
      if (token.kind === 'name' && this.isOp('=', 1) && !this.isOp('=', 2)) {
        const earlier = seen.get(token.text);
        if (earlier) {
          throw this.error(
            token,
            `keyword argument "${token.text}" repeated (first at line ${earlier.line}, column ${earlier.column})`,
          );
        }
        seen.set(token.text, token);
        this.pos += 2;
        kwargs.push([token.text, this.parse().value]);
      } else {
        if (kwargs.length > 0) throw this.error(token, 'a positional argument follows a keyword argument');
        args.push(this.parse().value);
      }
      this.separator(')', open);
      if (this.isOp(')')) break;
      this.next();
    }
    this.expectOp(')', open);
    const after = this.peek();
    if (after.kind === 'op' && ['.', '(', '['].includes(after.text)) {
      throw this.error(
        after,
        `"${after.text}" after the call to ${callee}: a call is read as data and never run, so nothing is taken from its result`,
      );
    }
    // fromEntries defines own properties, so a keyword such as "__proto__" stays data.
    return { value: { call: callee, args, kwargs: Object.fromEntries(kwargs) }, hashable: false };
  }

  /** `set()`, `set([...])`, `set((...))`, `set({...})`: the argument's items as a set. */
  private setCall(): Parsed {
    const open = this.expectOp('(');
    if (this.isOp(')')) {
      this.next();
      return { value: [], hashable: false };
    }
    const argument = this.peek();
    if (!(argument.kind === 'op' && ['[', '(', '{'].includes(argument.text))) {
      throw this.error(argument, 'set(...) is read only with a list, tuple or set literal inside');
    }
    const items = this.collection();
    if (this.isOp(',')) this.next();
    this.expectOp(')', open);
    return this.toSet(items);
  }

  /** The items of a list, tuple or set display, for set(...). */
  private collection(): { items: Parsed[]; at: Token[] } {
    const open = this.peek();
    if (open.text === '[') return this.items('[', ']');
    if (open.text === '(') return this.items('(', ')');
    const parsed = this.braces();
    if (!Array.isArray(parsed.value)) throw this.error(open, 'set(...) of a dict is not read; use a list');
    return { items: parsed.value.map((value) => ({ value, hashable: true })), at: [] };
  }

  private toSet({ items, at }: { items: Parsed[]; at: Token[] }): Parsed {
    const unique = new Map<string, JsonValue>();
    items.forEach((item, i) => {
      if (!item.hashable)
        throw this.error(at[i] ?? this.peek(), 'a set can hold only strings, numbers and tuples');
      unique.set(JSON.stringify(item.value), item.value);
    });
    return { value: [...unique.values()].sort(compareJson), hashable: false };
  }

  /** Comma-separated values up to `close`, trailing comma allowed. */
  private items(openText: string, close: string): { items: Parsed[]; at: Token[]; commas: number } {
    const open = this.expectOp(openText);
    const items: Parsed[] = [];
    const at: Token[] = [];
    let commas = 0;
    while (!this.isOp(close)) {
      at.push(this.peek());
      items.push(this.parse());
      this.separator(close, open);
      if (this.isOp(close)) break;
      this.next();
      commas++;
    }
    this.expectOp(close, open);
    return { items, at, commas };
  }

  private list(): Parsed {
    return { value: this.items('[', ']').items.map((item) => item.value), hashable: false };
  }

  /** `(x)` is x; `()`, `(x,)` and `(x, y)` are tuples. */
  private parenthesized(): Parsed {
    const { items, commas } = this.items('(', ')');
    if (items.length === 1 && commas === 0) return items[0]!;
    return { value: items.map((item) => item.value), hashable: items.every((item) => item.hashable) };
  }

  /** `{}` is an empty dict; `{k: v, ...}` a dict; `{a, b}` a set display. */
  private braces(): Parsed {
    const open = this.expectOp('{');
    if (this.isOp('}')) {
      this.next();
      return { value: {}, hashable: false };
    }
    const firstAt = this.peek();
    const first = this.parse();
    if (this.isOp(':')) return this.dict(open, firstAt, first);
    const items = [first];
    const at = [firstAt];
    this.separator('}', open);
    while (this.isOp(',')) {
      this.next();
      if (this.isOp('}')) break;
      at.push(this.peek());
      items.push(this.parse());
      this.separator('}', open);
    }
    this.expectOp('}', open);
    return this.toSet({ items, at });
  }

  private dict(open: Token, firstAt: Token, first: Parsed): Parsed {
    const entries: [string, JsonValue][] = [];
    const seen = new Map<string, Token>();
    let keyAt = firstAt;
    let key = first;
    for (;;) {
      if (typeof key.value !== 'string') throw this.error(keyAt, 'dict keys must be strings to become JSON');
      const earlier = seen.get(key.value);
      if (earlier) {
        throw this.error(
          keyAt,
          `duplicate key "${key.value}" (first at line ${earlier.line}, column ${earlier.column})`,
        );
      }
      seen.set(key.value, keyAt);
      this.expectOp(':', open);
      entries.push([key.value, this.parse().value]);
      this.separator('}', open);
      if (!this.isOp(',')) break;
      this.next();
      if (this.isOp('}')) break;
      keyAt = this.peek();
      key = this.parse();
    }
    this.expectOp('}', open);
    // fromEntries defines own properties, so a key such as "__proto__" stays data.
    return { value: Object.fromEntries(entries), hashable: false };
  }
}

/** Parses a whole text as one Python literal expression (tests and small inputs). */
export function parsePythonLiteral(text: string, file = '<literal>'): JsonValue {
  const parser = new LiteralParser(Tokenizer.tokenize(text, file));
  const value = parser.value();
  while (parser.peek().kind === 'newline') parser.next();
  const rest = parser.peek();
  if (rest.kind !== 'eof') throw parser.error(rest, `unexpected ${describe(rest)} after the value`);
  return value;
}
