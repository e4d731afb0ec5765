import { Errors, flush, run } from '@oclif/core';

import { isUnprinted, printError } from './messages.js';

/**
 * What the bins run: oclif's `execute`, except that an error no command printed (an unknown
 * command, a plugin command's error) is printed by oproc, unwrapped off a terminal. Errors oclif
 * follows with the command's usage are left to oclif, which prints both.
 */
export async function main(argv: string[], dir: string): Promise<void> {
  try {
    await run(argv, dir);
    await flush();
  } catch (error) {
    const showsHelp = (error as { showHelp?: boolean }).showHelp === true;
    await Errors.handle(isUnprinted(error) && !showsHelp ? printError(error) : (error as Error));
  }
}
