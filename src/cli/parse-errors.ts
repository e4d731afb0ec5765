import { Errors, toConfiguredId, type Command, type Config } from '@oclif/core';

import { ExitCode } from '../errors.js';
import { nearest } from './nearest.js';

/** What oclif's parser errors carry (its classes are not exported, so they are told by name). */
interface ParseError extends Error {
  flags?: string[];
  args?: { name: string; description?: string }[];
}

interface ArgDefinition {
  name?: string;
  description?: string;
  required?: boolean;
  multiple?: boolean;
  hidden?: boolean;
}

interface FlagDefinition {
  hidden?: boolean;
  aliases?: string[];
}

/** The arguments as the usage line shows them: `CONFIG RATV FILETYPE RUNS...`, optional ones in brackets. */
export function argumentsUsage(command: Command.Class): string {
  return Object.entries((command.args ?? {}) as Record<string, ArgDefinition>)
    .filter(([, arg]) => !arg.hidden)
    .map(([key, arg]) => {
      const word = `${(arg.name ?? key).toUpperCase()}${arg.multiple ? '...' : ''}`;
      return arg.required ? word : `[${word}]`;
    })
    .join(' ');
}

/** Every way to write a flag of the command, `--json` included: `--name` and `--alias`. */
function flagNames(command: Command.Class): string[] {
  const flags = { ...command.baseFlags, ...command.flags } as Record<string, FlagDefinition>;
  const names = Object.entries(flags)
    .filter(([, flag]) => !flag.hidden)
    .flatMap(([name, flag]) => [name, ...(flag.aliases ?? [])]);
  if (command.enableJsonFlag && !names.includes('json')) names.push('json');
  return names.map((name) => `--${name}`);
}

/** `--jsn` (did you mean --json?) */
function describeUnknownFlag(typed: string, names: readonly string[]): string {
  const flag = typed.split('=')[0]!;
  const meant = flag.startsWith('--') ? nearest(flag, names) : undefined;
  return meant ? `${flag} (did you mean ${meant}?)` : flag;
}

/**
 * oclif's parse errors, short: an unknown flag names the nearest one (`--jsn`: did you mean
 * `--json`?), a missing argument is named with what it is, and neither prints the whole help (the
 * usage line at most). Undefined for any other error. Exit 2, as every usage error.
 */
export function explainParseError(
  error: Error,
  command: Command.Class,
  config: Config,
  id: string | undefined,
): Errors.CLIError | undefined {
  const explained = explain(error, command, config, id);
  // exitCode too: under --json oclif takes the exit code from it, not from `oclif.exit`.
  return explained && Object.assign(explained, { exitCode: ExitCode.Usage });
}

function explain(
  error: Error,
  command: Command.Class,
  config: Config,
  id: string | undefined,
): Errors.CLIError | undefined {
  const kind = error.constructor.name;
  const parsed = error as ParseError;
  const invocation = `${config.bin}${id ? ` ${toConfiguredId(id, config)}` : ''}`;
  const usage = `Usage: ${invocation} ${argumentsUsage(command)} [flags] (${invocation} --help lists them)`;
  if (kind === 'NonExistentFlagsError' && Array.isArray(parsed.flags)) {
    const names = flagNames(command);
    const described = parsed.flags.map((flag) => describeUnknownFlag(flag, names));
    const guessed = described.every((text) => text.includes('did you mean'));
    const message = `unknown flag${described.length === 1 ? '' : 's'} ${described.join(', ')}`;
    return new Errors.CLIError(guessed ? message : `${message}; ${invocation} --help lists the flags`, {
      exit: ExitCode.Usage,
    });
  }
  if (kind === 'RequiredArgsError' && Array.isArray(parsed.args)) {
    const missing = parsed.args.map((arg) => {
      const name = arg.name.toUpperCase();
      return arg.description ? `${name} (${arg.description})` : name;
    });
    const noun = missing.length === 1 ? 'argument' : 'arguments';
    return new Errors.CLIError(`missing ${noun} ${missing.join(', ')}\n${usage}`, { exit: ExitCode.Usage });
  }
  if (kind === 'UnexpectedArgsError' && Array.isArray(parsed.args)) {
    const extra = (parsed.args as unknown[]).map(String);
    const noun = extra.length === 1 ? 'argument' : 'arguments';
    return new Errors.CLIError(`unexpected ${noun} ${extra.join(' ')}\n${usage}`, { exit: ExitCode.Usage });
  }
  return undefined;
}
