import { Errors, toConfiguredId, type Hook, type Interfaces } from '@oclif/core';
import notFound from '@oclif/plugin-not-found';

import { ExitCode } from '../errors.js';
import { nearest, nearestDistance, shellWord } from '../cli/nearest.js';

/** The command ids a user may type (aliases too, hidden ones not), in oclif's order. */
function commandIds(config: Interfaces.Config): string[] {
  const hidden = new Set(config.commands.filter((c) => c.hidden).map((c) => c.id));
  return [...config.commandIDs, ...config.commands.flatMap((c) => c.aliases)].filter((id) => !hidden.has(id));
}

/**
 * oclif joins every word before the first flag into the id of a command it cannot find
 * (`oproc stauts demo/site.json` looks for `stauts:demo/site.json`), and nothing is near that.
 * The command words are the leading words nearest to a command; the rest are its arguments.
 */
export function splitCommandWords(
  ids: readonly string[],
  id: string,
  argv: readonly string[] = [],
): { id: string; argv: string[] } {
  const parts = id.split(':');
  let best = { words: 1, distance: Infinity };
  for (let words = 1; words <= parts.length; words++) {
    const d = nearestDistance(parts.slice(0, words).join(':'), ids);
    if (d < best.distance) best = { words, distance: d };
  }
  return { id: parts.slice(0, best.words).join(':'), argv: [...parts.slice(best.words), ...argv] };
}

/**
 * A mistyped command: @oclif/plugin-not-found, given the command words apart from their arguments.
 * On a terminal it asks "Did you mean status?" and runs it, arguments and all, when told yes.
 * Elsewhere (scripts, cron, CI) it cannot ask, so the nearest command is named in the error, as the
 * whole command line to run instead. Either way a mistyped command is a usage error: exit 2.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const ids = commandIds(options.config);
  const typed = splitCommandWords(ids, options.id, options.argv);
  // Off a terminal the plugin's warning would say again what the error below says.
  const context = process.stdin.isTTY ? this : { ...this, warn: () => undefined };
  try {
    return await notFound.call(context, { ...options, ...typed });
  } catch (error) {
    // The plugin's own "not found" (exit 127); an error of a command it ran is that command's.
    if (!(error instanceof Errors.CLIError) || error.oclif.exit !== 127) throw error;
    const { bin } = options.config;
    const suggestion = process.stdin.isTTY ? undefined : nearest(typed.id, ids);
    const asTyped = toConfiguredId(typed.id, options.config);
    if (!suggestion) {
      throw new Errors.CLIError(`${asTyped} is not an ${bin} command; ${bin} help lists the commands`, {
        exit: ExitCode.Usage,
      });
    }
    const meant = toConfiguredId(suggestion, options.config);
    const line = [bin, ...meant.split(' '), ...typed.argv].map(shellWord).join(' ');
    throw new Errors.CLIError(`${asTyped} is not an ${bin} command; did you mean ${meant}?`, {
      exit: ExitCode.Usage,
      suggestions: [line],
    });
  }
};

export default hook;
