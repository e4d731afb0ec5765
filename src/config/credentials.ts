import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

import { usageError } from '../errors.js';
import type { DatabaseRole, DatabaseSection } from './load.js';

/** The environment variable a section's password is read from. */
export function passwordVariable(role: DatabaseRole, section: DatabaseSection): string {
  return section.password_env ?? `OPROC_${role.toUpperCase()}_PASSWORD`;
}

/**
 * How a backend gets a password when the server asks for one: the environment variable, else a
 * prompt on the terminal (input not echoed), else a clear error for scripts. Asked at most once.
 */
export function passwordSource(
  role: DatabaseRole,
  section: DatabaseSection,
): (user: string) => Promise<string> {
  let answer: Promise<string> | undefined;
  return (user) => {
    answer ??= (async () => {
      const variable = passwordVariable(role, section);
      const fromEnv = process.env[variable];
      if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
      if (!process.stdin.isTTY || !process.stderr.isTTY) {
        throw usageError(
          `the ${role} database needs a password for user "${user}" and there is no terminal to ask on`,
          `set ${variable} in the environment, or put "password_env": "NAME" in the ${role} section`,
        );
      }
      return prompt(`Password for ${user} (${role} database): `);
    })();
    return answer;
  };
}

async function prompt(question: string): Promise<string> {
  process.stderr.write(question);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: silent, terminal: true });
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
