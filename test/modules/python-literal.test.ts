import { expect } from 'chai';

import { parsePythonLiteral, PythonSyntaxError } from '../../src/modules/python-literal.js';

function syntaxError(text: string): PythonSyntaxError {
  try {
    parsePythonLiteral(text, 'info.py');
  } catch (error) {
    expect(error).to.be.instanceOf(PythonSyntaxError);
    return error as PythonSyntaxError;
  }
  expect.fail(`expected ${JSON.stringify(text)} to be refused`);
}

describe('Python literal reader', () => {
  describe('reads', () => {
    const cases: [string, string, unknown][] = [
      ['double and single quotes', `["a", 'b']`, ['a', 'b']],
      ['triple quotes over lines', `"""one\ntwo"""`, 'one\ntwo'],
      ['triple single quotes with a quote inside', `'''it's'''`, "it's"],
      ['raw strings, backslashes kept', String.raw`r'mac\processing\n'`, String.raw`mac\processing\n`],
      [
        'escapes',
        String.raw`"tab\there \"q\" \x41\u00e9\U0001F600 \101 back\\slash \q"`,
        'tab\there "q" Aé😀 A back\\slash \\q',
      ],
      ['adjacent strings joined', `"mac/" 'processing/' r"x.mac"`, 'mac/processing/x.mac'],
      ['a backslash-newline inside a string', '"ab\\\ncd"', 'abcd'],
      ['u-prefixed strings', `u"unicode"`, 'unicode'],
      [
        'ints, floats and signs',
        '[0, 42, -7, +3, 1_000, 0x1F, 0o17, 0b101, 1.5, -.5, 1e3, 2.5E-2, 10L]',
        [0, 42, -7, 3, 1000, 31, 15, 5, 1.5, -0.5, 1000, 0.025, 10],
      ],
      ['True, False and None', '(True, False, None)', [true, false, null]],
      ['tuples, including one-element and empty', '((1,), (), (2))', [[1], [], 2]],
      ['dicts with trailing commas', `{"a": 1, 'b': [2, 3,],}`, { a: 1, b: [2, 3] }],
      ['set([...]) sorted', `set(["Processing", "Analysis", "Processing"])`, ['Analysis', 'Processing']],
      ['set() empty', 'set()', []],
      ['set displays', `{'b', "a", 'c',}`, ['a', 'b', 'c']],
      ['frozenset of a tuple', 'frozenset((3, 1, 2))', [1, 2, 3]],
      [
        'sets of tuples',
        '{(2, "b"), (1, "a")}',
        [
          [1, 'a'],
          [2, 'b'],
        ],
      ],
      [
        'comments and newlines inside brackets',
        '{  # modules\n  "a": 1,  # first\n\n  "b": 2\n}',
        { a: 1, b: 2 },
      ],
      ['backslash continuations', '[1, \\\n 2]', [1, 2]],
      ['an empty dict', '{}', {}],
      ['"__proto__" as a plain key', '{"__proto__": 1}', JSON.parse('{"__proto__": 1}')],
      [
        'a call with keyword arguments, as data',
        'PGSQLFile(namePattern = "CSS_RESULT_*.ratdb", passDefault = -1, version = 1)',
        {
          call: 'PGSQLFile',
          args: [],
          kwargs: { namePattern: 'CSS_RESULT_*.ratdb', passDefault: -1, version: 1 },
        },
      ],
      [
        'a call with positional arguments and a trailing comma',
        `LocalFile("*.root", 2, True,)`,
        { call: 'LocalFile', args: ['*.root', 2, true], kwargs: {} },
      ],
      [
        'positional and keyword arguments together',
        'F(1, (2, 3), k = None)',
        { call: 'F', args: [1, [2, 3]], kwargs: { k: null } },
      ],
      [
        'a dotted callee, named in full',
        'Lib.Applications.PGSQLFile()',
        { call: 'Lib.Applications.PGSQLFile', args: [], kwargs: {} },
      ],
      [
        'nested calls, in arguments and in lists',
        'F(G(1), files = [H(x = "a")], n = set(["b", "a"]))',
        {
          call: 'F',
          args: [{ call: 'G', args: [1], kwargs: {} }],
          kwargs: { files: [{ call: 'H', args: [], kwargs: { x: 'a' } }], n: ['a', 'b'] },
        },
      ],
      [
        'calls over lines, with comments',
        '[PGSQLFile(namePattern = "a",  # the results\n           version = 1)]',
        [{ call: 'PGSQLFile', args: [], kwargs: { namePattern: 'a', version: 1 } }],
      ],
      [
        '"__proto__" as a plain keyword',
        'F(__proto__ = 1)',
        { call: 'F', args: [], kwargs: JSON.parse('{"__proto__": 1}') as unknown },
      ],
    ];
    for (const [what, text, expected] of cases) {
      it(what, () => {
        expect(parsePythonLiteral(text)).to.deep.equal(expected);
      });
    }
  });

  describe('refuses, at line and column', () => {
    it('an unterminated string, at the quote that opens it', () => {
      const error = syntaxError('{\n  "Processing": {\n    "path": "mac/processing.mac,\n  }\n}');
      expect([error.line, error.column]).to.deep.equal([3, 13]);
      expect(error.message).to.match(/^info\.py:3:13: unterminated string/);
    });

    it('an unterminated triple-quoted string', () => {
      const error = syntaxError('["ok",\n """never closed\n]');
      expect([error.line, error.column]).to.deep.equal([2, 2]);
    });

    it("anything taken from a call's result, such as __import__('os').system(...), without running it", () => {
      const error = syntaxError(`{"a": __import__('os').system('false')}`);
      expect([error.line, error.column]).to.deep.equal([1, 23]);
      expect(error.message).to.include(
        '"." after the call to __import__: a call is read as data and never run',
      );
    });

    it('a bare name, at its line and column', () => {
      const error = syntaxError('{"a": LocalFile("a.root"),\n "b": HOME}');
      expect([error.line, error.column]).to.deep.equal([2, 7]);
      expect(error.message).to.include('"HOME" is not a literal');
    });

    const refused: [string, string, string][] = [
      ['an expression', '[1] + [2]', 'after the value'],
      ['an operator inside a dict', '{"a": 1 + 2}', 'no operators'],
      ['a comprehension', '[1 for x in y]', 'comprehensions'],
      ['a lambda', '{"a": lambda: 1}', 'not a literal'],
      ['an f-string', '{"a": f"{x}"}', 'f-strings'],
      ['a bytes literal', `[b'raw']`, 'bytes'],
      ['a complex number', '[1j]', 'complex'],
      ['a non-string dict key', '{1: "a"}', 'keys must be strings'],
      ['a duplicate dict key', '{"a": 1,\n "a": 2}', 'first at line 1, column 2'],
      ['a list in a set', '{[1], 2}', 'a set can hold only'],
      ['an unclosed bracket', '{"a": [1, 2}', 'expected "," or "]"'],
      ['a stray closing bracket', '[1]]', 'unmatched'],
      ['a sign on a string', '-"a"', 'only to numbers'],
      ['a legacy octal', '[0755]', 'leading zeros'],
      ['an integer too large for JSON', '[123456789012345678901]', 'too large'],
      ['set() of a string', 'set("abc")', 'list, tuple or set'],
      ['nesting past the limit', '['.repeat(500) + ']'.repeat(500), 'nested deeper'],
      ['a dotted name that is not called', '[os.sep]', '"os.sep" is not a literal'],
      ['arithmetic in a call argument', 'F(version = 1 + 1)', 'no operators'],
      ['a bare name in a call argument', 'F(PASS)', '"PASS" is not a literal'],
      ['*args in a call', 'F(*files)', '*args and **kwargs in the call to F'],
      ['**kwargs in a call', 'F(**options)', '*args and **kwargs'],
      ['a positional argument after a keyword', 'F(a = 1, 2)', 'positional argument follows'],
      [
        'a repeated keyword',
        'F(a = 1,\n  a = 2)',
        'keyword argument "a" repeated (first at line 1, column 3)',
      ],
      ['a call in a set', '{F(1), 2}', 'a set can hold only'],
      ['a call of a call', 'F(1)(2)', '"(" after the call to F'],
      ['an item of a call', 'F(1)[0]', '"[" after the call to F'],
    ];
    for (const [what, text, words] of refused) {
      it(what, () => {
        const error = syntaxError(text);
        expect(error.message).to.match(/^info\.py:\d+:\d+: /);
        expect(error.message).to.include(words);
      });
    }
  });
});
