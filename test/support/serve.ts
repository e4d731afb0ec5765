import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningServe {
  url: string;
  pid: number;
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** SIGINT (as Ctrl-C), then SIGKILL if it has not ended after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts the built `oproc serve CONFIG --port 0 ...` and waits for the URL it prints. `nodeArgs` go
 * to node before the script (options NODE_OPTIONS does not allow, such as --trace-gc).
 */
export async function startServe(
  config: string,
  extra: string[] = [],
  nodeArgs: string[] = [],
): Promise<RunningServe> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, path.join(root, 'bin', 'run.js'), 'serve', config, '--port', '0', ...extra],
    {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`oproc serve printed no URL:\n${stdout}\n${stderr}`)),
      60_000,
    );
    const look = () => {
      const match = /Status page: (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`oproc serve exited (${code}) before serving:\n${stdout}\n${stderr}`));
    });
  });
  const stop = async (graceMs = 15_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    }
    return exited;
  };
  return { url, pid: child.pid!, output: () => ({ stdout, stderr }), exited, stop };
}
