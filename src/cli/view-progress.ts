import type { ViewBuildProgress } from '../backends/types.js';

const n = (value: number) => value.toLocaleString('en');

/** Documents a second between two readings of a build, for the time left. */
interface Sample {
  at: number;
  done: number;
}

function percentOf(progress: ViewBuildProgress): number {
  return progress.totalChanges > 0
    ? Math.min(100, Math.floor((100 * progress.changesDone) / progress.totalChanges))
    : 0;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/**
 * `42% (420,000 of 1,000,000 documents), 13,100 a second, about 45 s left`: a build's progress as
 * the server reports it, with the rate measured since the first reading.
 */
export function describeBuild(progress: ViewBuildProgress, first: Sample | undefined, now: number): string {
  const parts = [
    `${percentOf(progress)}% (${n(progress.changesDone)} of ${n(progress.totalChanges)} documents)`,
  ];
  if (first && now - first.at >= 1000 && progress.changesDone > first.done) {
    const rate = ((progress.changesDone - first.done) * 1000) / (now - first.at);
    parts.push(`${n(Math.round(rate))} a second`);
    const left = progress.totalChanges - progress.changesDone;
    if (left > 0) parts.push(`about ${duration(left / rate)} left`);
  }
  return parts.join(', ');
}

function bar(percent: number, width = 30): string {
  const full = Math.round((percent / 100) * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

export interface BuildDisplay {
  /** A reading of the build under way. */
  update(progress: ViewBuildProgress): void;
  /** The build is over (or there was none): the bar's line is finished. */
  done(): void;
}

/**
 * How `oproc init` shows view builds, on stderr: on a terminal one progress bar redrawn in place;
 * off a terminal (CI, screen logs, pipes) a plain line at most every `everyMs`.
 */
export function buildDisplay(
  stream: NodeJS.WriteStream = process.stderr,
  options: { everyMs?: number } = {},
): BuildDisplay {
  const everyMs = options.everyMs ?? 10_000;
  const firsts = new Map<string, Sample>();
  let lastLine = 0;
  let drawn = false;
  return {
    update(progress) {
      const now = Date.now();
      const first = firsts.get(progress.design);
      if (!first) firsts.set(progress.design, { at: now, done: progress.changesDone });
      const text = `views of _design/${progress.design} being built: ${describeBuild(progress, first, now)}`;
      if (stream.isTTY) {
        stream.write(`\r\x1b[2K${bar(percentOf(progress))} ${text}`);
        drawn = true;
      } else if (now - lastLine >= everyMs || !first) {
        lastLine = now;
        stream.write(`[${new Date(now).toISOString().slice(11, 19)}] ${text}\n`);
      }
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
