/** Exit codes of every oproc command (DESIGN.md 3). */
export const ExitCode = {
  /** Everything asked for was done. */
  Ok: 0,
  /** Some runs were skipped or failed; they are listed. */
  Partial: 1,
  /** Usage or configuration error: nothing was written. */
  Usage: 2,
} as const;

/**
 * An error the user can act on: what was wrong, where, and what to do. Commands print its message
 * (never a stack trace) and exit with its code.
 */
export class OprocError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Usage,
    readonly suggestions: string[] = [],
  ) {
    super(message);
    this.name = 'OprocError';
  }
}

/** A usage or configuration problem found before anything was written (exit 2). */
export function usageError(message: string, ...suggestions: string[]): OprocError {
  return new OprocError(message, ExitCode.Usage, suggestions);
}
