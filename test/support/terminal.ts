import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Quotes a word for `sh -c`. */
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), 120 columns by 40 rows, as a shifter
 * would in a terminal session. When the output shows a question (`(y/N)`), `answer` is typed, once
 * (a function: what it resolves to, once it has done what happens while the question is open).
 * Returns the exit code and what was drawn, without colors and cursor moves.
 */
export function onTerminal(
  args: readonly string[],
  answer?: string | (() => Promise<string>),
): Promise<{ code: number; output: string }> {
  const command = `stty cols 120 rows 40; ${[process.execPath, path.join(root, 'bin', 'run.js'), ...args].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: root,
      env: { ...process.env, TERM: 'xterm-256color' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let answered = answer === undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!answered && output.includes('(y/N)')) {
        answered = true;
        void Promise.resolve(typeof answer === 'function' ? answer() : answer).then(
          (typed) => child.stdin.write(typed),
          (error: unknown) => {
            child.kill('SIGKILL');
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      }
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? NaN,
        // eslint-disable-next-line no-control-regex -- the colors and cursor moves a terminal gets
        output: output.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, ''),
      }),
    );
  });
}
