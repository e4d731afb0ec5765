import { expect } from 'chai';
import fc from 'fast-check';

import { parsePythonLiteral, PythonSyntaxError, type JsonValue } from '../../src/modules/python-literal.js';

/** A small seeded generator, so one printed literal mixes quote styles and layouts. */
function chooser(seed: number) {
  let state = seed >>> 0 || 1;
  return <T>(options: readonly T[]): T => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return options[(state >>> 0) % options.length]!;
  };
}

type Choose = ReturnType<typeof chooser>;

function escapeChar(c: string, quote: string, keepNewline: boolean): string {
  if (c === '\\') return '\\\\';
  if (quote.includes(c)) return `\\${c}`;
  if (c === '\n' && keepNewline) return c;
  const code = c.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code >= 0xd800 && code <= 0xdfff) return `\\u${code.toString(16)}`;
  return c;
}

const quotes = ['"', "'", '"""', "'''", 'r"', "r'"];

function printString(text: string, choose: Choose, quote = choose(quotes)): string {
  if (quote.startsWith('r')) {
    const q = quote.slice(1);
    const rawable = !/[\n\r\\]/.test(text) && !text.includes(q) && !/[\ud800-\udfff]/.test(text);
    return rawable ? `${quote}${text}${q}` : printString(text, choose, q);
  }
  const body = [...text].map((c) => escapeChar(c, quote[0]!, quote.length === 3)).join('');
  if (choose([false, true]) && text.length > 1) {
    // Adjacent literals join: split the text and print the halves separately.
    const half = Math.floor(text.length / 2);
    return `${printString(text.slice(0, half), choose)} ${printString(text.slice(half), choose)}`;
  }
  return `${quote}${body}${quote}`;
}

function printNumber(n: number): string {
  if (Object.is(n, -0)) return '-0.0';
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) return n.toExponential();
  return String(n);
}

const gaps = ['', ' ', '\n  ', '  # a comment\n', ' \\\n '];

function printItems(items: string[], open: string, close: string, choose: Choose): string {
  const gap = () => choose(gaps);
  const trailing = items.length > 0 && choose([false, true]) ? ',' : '';
  return `${open}${gap()}${items.map((item) => `${item}${gap()}`).join(`,${gap()}`)}${trailing}${gap()}${close}`;
}

/** Prints a JSON value as Python source, choosing quotes, tuples or lists, and layout at random. */
function toPython(value: JsonValue, choose: Choose): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return printNumber(value);
  if (typeof value === 'string') return printString(value, choose);
  if (Array.isArray(value)) {
    const items = value.map((item) => toPython(item, choose));
    if (choose([false, true])) return printItems(items, '[', ']', choose);
    return items.length === 1 ? `(${items[0]},)` : printItems(items, '(', ')', choose);
  }
  const entries = Object.entries(value).map(([k, v]) => `${printString(k, choose)}: ${toPython(v, choose)}`);
  return printItems(entries, '{', '}', choose);
}

describe('Python literal reader (property)', () => {
  it('reads back any JSON-like value printed as a Python literal', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), fc.integer(), (value, seed) => {
        const source = toPython(value as JsonValue, chooser(seed));
        expect(parsePythonLiteral(source), source).to.deep.equal(value);
      }),
      { numRuns: 500 },
    );
  });

  it('reads any set of strings, in either spelling, as the sorted unique strings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 6 }), { minLength: 1 }),
        fc.integer(),
        (texts, seed) => {
          const choose = chooser(seed);
          const items = texts.map((text) => printString(text, choose));
          const source = choose([true, false]) ? `set([${items.join(', ')}])` : `{${items.join(', ')}}`;
          const expected = [...new Set(texts)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          expect(parsePythonLiteral(source), source).to.deep.equal(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers any text with a value or a syntax error at a line and column, never anything else', () => {
    const pythonish = fc.string({
      unit: fc.constantFrom(...'{}[](),:\'"#\\\n -+.0123456789eExjrbfTrueNonset_ '.split('')),
    });
    fc.assert(
      fc.property(fc.oneof(pythonish, fc.string({ unit: 'binary' })), (text) => {
        try {
          parsePythonLiteral(text);
        } catch (error) {
          expect(error, String(error)).to.be.instanceOf(PythonSyntaxError);
          expect((error as PythonSyntaxError).line).to.be.at.least(1);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
