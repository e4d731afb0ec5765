import { createRequire } from 'node:module';
import path from 'node:path';

import { Errors, flush, run } from '@oclif/core';

import { isUnprinted, printError } from './messages.js';

/**
 * oclif prints its own warnings (a linked plugin, a plugin command's `this.warn`) hard-wrapped at the
 * width it fixed when it loaded: 80 columns off a terminal. Its error printer reads that width from
 * its screen module at each call, so off a terminal it is set so wide that nothing wraps. A module
 * oclif no longer has leaves its wrapping as it is.
 */
function unwrapOclifMessagesOffTerminal(): void {
  if (process.stderr.isTTY) return;
  try {
    const require = createRequire(import.meta.url);
    const screen = require(path.join(path.dirname(require.resolve('@oclif/core')), 'screen.js')) as {
      errtermwidth?: number;
    };
    if (typeof screen.errtermwidth === 'number') screen.errtermwidth = Number.MAX_SAFE_INTEGER;
  } catch {
    // An @oclif/core laid out otherwise: its messages wrap as before; oproc's own never do.
  }
}

/**
 * What the bins run: oclif's `execute`, except that an error no command printed (an unknown
 * command, a plugin command's error) is printed by oproc, unwrapped off a terminal. Errors oclif
 * follows with the command's usage are left to oclif, which prints both.
 */
export async function main(argv: string[], dir: string): Promise<void> {
  unwrapOclifMessagesOffTerminal();
  try {
    await run(argv, dir);
    await flush();
  } catch (error) {
    const showsHelp = (error as { showHelp?: boolean }).showHelp === true;
    await Errors.handle(isUnprinted(error) && !showsHelp ? printError(error) : (error as Error));
  }
}
