/**
 * Child processes of the benchmark: the oproc CLI timed with its peak RSS, and a registry of
 * everything started so that it is stopped by PID on success, failure or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'run.js');
const gnuTime = '/usr/bin/time';

/** How peak RSS is read: GNU time's kernel rusage of the child, else /proc VmHWM polled. */
export const rssMethod = existsSync(gnuTime)
  ? 'GNU time (`/usr/bin/time -f "%M %U %S"`): ru_maxrss of the oproc process, from the kernel at exit, and its CPU time'
  : '/proc/PID/status VmHWM of the oproc process, polled every 20 ms';

export interface Measured {
  code: number | null;
  wallMs: number;
  /** Peak resident set size in MiB, when it could be read. */
  peakRssMb: number | undefined;
  /** CPU seconds (user and system) of the oproc process, when they could be read (GNU time). */
  cpuSeconds: number | undefined;
  stdout: string;
  stderr: string;
}

type Stop = () => Promise<void>;
const stops = new Map<string, Stop>();
const children = new Set<ChildProcess>();

/** Registers something to stop at the end (or on Ctrl-C); returns the function that unregisters it. */
export function onCleanup(name: string, stop: Stop): () => void {
  stops.set(name, stop);
  return () => stops.delete(name);
}

/** Stops every child by PID and every registered server, newest first. */
export async function cleanupAll(): Promise<void> {
  for (const child of children) if (child.exitCode === null) signalGroup(child, 'SIGKILL');
  for (const child of children) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  children.clear();
  const pending = [...stops.entries()].reverse();
  stops.clear();
  for (const [name, stop] of pending) {
    await stop().catch((error: unknown) => console.error(`stopping ${name} failed: ${String(error)}`));
  }
}

/** Ctrl-C or a kill stops what the benchmark started before it exits. */
export function guardSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping servers and children`);
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}

/**
 * Signals a child's process group by its PID: the group holds the child and, when it runs under
 * GNU time, the oproc process itself (time does not pass signals on).
 */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Keeps a child to be killed by PID if the benchmark stops early. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Node options for every oproc process the bench starts, from OPROC_BENCH_NODE_ARGS: e.g.
 * `--cpu-prof --cpu-prof-dir=DIR` for a CPU profile of each (not allowed in NODE_OPTIONS).
 */
const nodeArgs = (process.env.OPROC_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

/** Spawns `node [NODE ARGS] bin/run.js ARGS` in its own process group, tracked for cleanup. */
export function spawnCli(
  args: readonly string[],
  wrap: readonly string[] = [],
  moreNodeArgs: readonly string[] = [],
): ChildProcess {
  const node = [process.execPath, ...nodeArgs, ...moreNodeArgs, cli, ...args];
  const [file, argv] = wrap.length > 0 ? [wrap[0]!, [...wrap.slice(1), ...node]] : [node[0]!, node.slice(1)];
  const child = spawn(file, argv, {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  return track(child);
}

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: out.join(''), stderr: err.join('') }));
  });
}

/** Peak RSS from /proc while the process lives (VmHWM only grows, so the last reading is the peak so far). */
function pollVmHwm(pid: number): { stop(): number | undefined } {
  let peakKb: number | undefined;
  const read = async () => {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    if (match) peakKb = Math.max(peakKb ?? 0, Number(match[1]));
  };
  const timer = setInterval(() => void read(), 20);
  return {
    stop() {
      clearInterval(timer);
      return peakKb;
    },
  };
}

/** Runs the CLI to completion, timing it from spawn to exit and reading its peak RSS and CPU. */
export async function measureCli(args: readonly string[]): Promise<Measured> {
  const rssFile = path.join(tmpdir(), `oproc-bench-rss-${randomBytes(4).toString('hex')}`);
  const useTime = existsSync(gnuTime);
  const started = performance.now();
  const child = spawnCli(args, useTime ? [gnuTime, '-f', '%M %U %S', '-o', rssFile] : []);
  const poll = useTime ? undefined : pollVmHwm(child.pid!);
  const result = await collect(child);
  const wallMs = performance.now() - started;
  let peakKb = poll?.stop();
  let cpuSeconds: number | undefined;
  if (useTime) {
    const text = await readFile(rssFile, 'utf8').catch(() => '');
    // GNU time writes "Command exited with non-zero status N" first when the command fails.
    const figures = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(text.trim().split('\n').pop() ?? '');
    peakKb = figures ? Number(figures[1]) : undefined;
    cpuSeconds = figures ? Number(figures[2]) + Number(figures[3]) : undefined;
    await rm(rssFile, { force: true });
  }
  return { ...result, wallMs, peakRssMb: peakKb === undefined ? undefined : peakKb / 1024, cpuSeconds };
}

/**
 * CPU seconds used so far by the processes `roots` and all their descendants (a server and its
 * workers: CouchDB's JavaScript view servers, PostgreSQL's backends), those that exited and were
 * waited for included. The difference of two readings is what the tree used between them.
 */
export async function treeCpuSeconds(roots: readonly number[]): Promise<number> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    // After "PID (COMMAND) ": state, ppid, ... utime (14th field), stime, cutime, cstime.
    const fields = text?.slice(text.lastIndexOf(')') + 2).split(' ');
    if (!fields || fields.length < 15) continue;
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    stats.set(Number(entry), { ppid: Number(fields[1]), ticks });
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  let ticks = 0;
  const seen = new Set<number>();
  const visit = (pid: number) => {
    if (seen.has(pid)) return;
    seen.add(pid);
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const child of children.get(pid) ?? []) visit(child);
  };
  roots.filter((pid) => pid > 0).forEach(visit);
  return ticks / clockTicks;
}

/** Linux's USER_HZ, in which /proc gives CPU times. */
const clockTicks = 100;

/** Stops a long-running child (a watcher) by PID: SIGINT, then SIGKILL if it lingers. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signalGroup(child, 'SIGINT');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) signalGroup(child, 'SIGKILL');
  }, graceMs);
  await gone;
  clearTimeout(timer);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
