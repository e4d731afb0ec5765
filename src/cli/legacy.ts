import { usageError } from '../errors.js';
import { plural } from '../util/plural.js';

/**
 * The original `offline_processing.py` command line (argparse), translated to oproc's commands.
 * `CONFIG RATV FILETYPE` and the original's flags in, a command id and its argv out.
 */
export interface Translation {
  id: 'watch' | 'block' | 'reprocess range' | 'reprocess after' | 'reprocess one-shot' | 'reprocess runlist';
  argv: string[];
}

interface OptionSpec {
  /** How many values: a number, '+' (one or more), '?' (zero or one). */
  nargs: number | '+' | '?';
  /** The option's name in the translation. */
  name: string;
}

const options: Record<string, OptionSpec> = {
  '--start-run': { nargs: 1, name: 'start-run' },
  '--block-run': { nargs: 2, name: 'block-run' },
  '--reprocess-range': { nargs: 2, name: 'reprocess-range' },
  '--reprocess-after': { nargs: 1, name: 'reprocess-after' },
  '--one-shot': { nargs: '+', name: 'one-shot' },
  '--runlist': { nargs: 1, name: 'runlist' },
  '--ratdb-tag': { nargs: 1, name: 'ratdb-tag' },
  '--nearline': { nargs: 1, name: 'nearline' },
  '--outlist': { nargs: 1, name: 'outlist' },
  '--skip-ratdb-check': { nargs: 0, name: 'skip-ratdb-check' },
  '--find-prereq': { nargs: '?', name: 'find-prereq' },
  '--force-prereq-pass': { nargs: 2, name: 'force-prereq-pass' },
  '--testing-nocal': { nargs: 0, name: 'testing-nocal' },
  '--testing-nodb': { nargs: 0, name: 'testing-nodb' },
  '--json': { nargs: 0, name: 'json' },
};

const shortForms: Record<string, string> = {
  '-r': '--start-run',
  '-b': '--block-run',
  '-R': '--reprocess-range',
  '-A': '--reprocess-after',
  '-1': '--one-shot',
  '-L': '--runlist',
  '-t': '--ratdb-tag',
  '-N': '--nearline',
  '-o': '--outlist',
  '-s': '--skip-ratdb-check',
  '-f': '--find-prereq',
};

const modes = ['start-run', 'block-run', 'reprocess-range', 'reprocess-after', 'one-shot', 'runlist'];

/** A word that starts an option: `--long`, or a known short form (`-1` is one-shot, not a number). */
function isOption(word: string): boolean {
  return word.startsWith('--') ? word.length > 2 : shortForms[word.slice(0, 2)] !== undefined;
}

/** Splits `--opt=value`, `-tTAG` and grouped short flags (`-sf`) the way argparse reads them. */
function expand(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (const word of argv) {
    if (word.startsWith('--') && word.includes('=')) {
      const at = word.indexOf('=');
      words.push(word.slice(0, at), word.slice(at + 1));
      continue;
    }
    if (word.startsWith('--') || word.length <= 2 || !isOption(word)) {
      words.push(word);
      continue;
    }
    let rest = word.slice(1);
    while (rest) {
      const flag = `-${rest[0]}`;
      const long = shortForms[flag];
      if (!long) throw usageError(`offline_processing: unrecognized argument ${flag} in ${word}`);
      words.push(flag);
      rest = rest.slice(1);
      // The first short option that takes a value takes the rest of the word, as in argparse.
      if (options[long]!.nargs !== 0 && rest) {
        words.push(rest);
        break;
      }
    }
  }
  return words;
}

/** Reads the original command line: positionals, and each option with its values, in order. */
function read(argv: readonly string[]): {
  positionals: string[];
  given: { name: string; values: string[] }[];
} {
  const words = expand(argv);
  const positionals: string[] = [];
  const given: { name: string; values: string[] }[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      positionals.push(...words.slice(i + 1));
      break;
    }
    if (!isOption(word)) {
      positionals.push(word);
      continue;
    }
    const long = shortForms[word] ?? word;
    const spec = options[long];
    if (!spec) throw usageError(`offline_processing: unrecognized argument ${word}`);
    const values: string[] = [];
    const more = () => i + 1 < words.length && !isOption(words[i + 1]!);
    if (typeof spec.nargs === 'number') {
      for (let n = 0; n < spec.nargs; n++) {
        if (!more())
          throw usageError(`offline_processing: ${word} expects ${plural(spec.nargs, 'argument')}`);
        values.push(words[++i]!);
      }
    } else if (spec.nargs === '+') {
      if (!more()) throw usageError(`offline_processing: ${word} expects at least one argument`);
      while (more()) values.push(words[++i]!);
    } else if (more()) values.push(words[++i]!);
    given.push({ name: spec.name, values });
  }
  return { positionals, given };
}

/** Translates the original command line (`CONFIG RATV FILETYPE` and flags, in any order) to an oproc command. */
export function translateLegacy(argv: readonly string[]): Translation {
  const { positionals, given } = read(argv);
  const chosen = given.filter((g) => modes.includes(g.name));
  if (chosen.length !== 1) {
    throw usageError(
      `offline_processing: exactly one of -r, -b, -R, -A, -1, -L is required${chosen.length ? ` (given: ${chosen.map((c) => `--${c.name}`).join(', ')})` : ''}`,
    );
  }
  // -1's runs may be followed by the positionals, as argparse allows: they are the last three words.
  const mode = chosen[0]!;
  if (mode.name === 'one-shot' && positionals.length < 3 && mode.values.length > 3 - positionals.length) {
    const needed = 3 - positionals.length;
    positionals.push(...mode.values.splice(mode.values.length - needed, needed));
  }
  if (positionals.length !== 3) {
    throw usageError(
      `offline_processing: expected CONFIG RATV FILETYPE, got ${plural(positionals.length, 'positional argument')}${positionals.length ? `: ${positionals.join(' ')}` : ''}`,
    );
  }
  const [config, ratv, filetype] = positionals as [string, string, string];
  const flags: string[] = [];
  for (const { name, values } of given) {
    switch (name) {
      case 'ratdb-tag':
      case 'outlist':
        flags.push(`--${name}`, values[0]!);
        break;
      case 'nearline':
        flags.push('--modules', values[0]!);
        break;
      case 'skip-ratdb-check':
      case 'json':
        flags.push(`--${name}`);
        break;
      case 'find-prereq':
        flags.push('--find-prereq');
        if (values[0] !== undefined) flags.push('--prereq-ratv', values[0]);
        break;
      case 'force-prereq-pass':
        flags.push('--force-prereq-pass', `${values[0]}=${values[1]}`);
        break;
      case 'testing-nocal':
        flags.push('--ignore-calibration-locks');
        break;
      case 'testing-nodb':
        flags.push('--dry-run');
        break;
    }
  }
  const head = [config, ratv, filetype];
  switch (mode.name) {
    case 'start-run':
      return { id: 'watch', argv: [...head, '--start-run', mode.values[0]!, ...flags] };
    case 'block-run':
      return { id: 'block', argv: [...head, ...mode.values, ...flags] };
    case 'reprocess-range':
      return { id: 'reprocess range', argv: [...head, ...mode.values, ...flags] };
    case 'reprocess-after':
      return { id: 'reprocess after', argv: [...head, mode.values[0]!, ...flags] };
    case 'one-shot':
      return { id: 'reprocess one-shot', argv: [...head, ...mode.values, ...flags] };
    default:
      return { id: 'reprocess runlist', argv: [...head, mode.values[0]!, ...flags] };
  }
}
