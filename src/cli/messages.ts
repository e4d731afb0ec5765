import { Errors, ux } from '@oclif/core';
import wrapAnsi from 'wrap-ansi';

import { OprocError } from '../errors.js';
import { redact } from '../util/mask.js';

/**
 * Errors and warnings as oclif lays them out (` ›   Error: ...`, `Try this: ...`), printed by
 * oproc itself: oclif hard-wraps them at 80 columns even off a terminal (its width is fixed when
 * @oclif/core loads), which breaks paths mid-word in logs and pipes. Off a terminal each line of
 * a message is printed whole; on one, lines wrap at spaces only, so no word is ever split.
 */
export type MessageKind = 'Error' | 'Warning';

export interface MessageStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** The width messages wrap to: undefined off a terminal (never wrap); OCLIF_COLUMNS, else the terminal's. */
export function messageWidth(
  stream: MessageStream,
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  if (!stream.isTTY) return undefined;
  const fromEnv = Number.parseInt(env.OCLIF_COLUMNS ?? '', 10);
  if (fromEnv > 0) return fromEnv;
  return stream.columns !== undefined && stream.columns > 0 ? stream.columns : 80;
}

/** One logical line wrapped at spaces to `width`, continuation lines keeping its indentation. */
function wrapLine(line: string, width: number): string[] {
  const indent = /^\s*/.exec(line)?.[0] ?? '';
  const room = Math.max(width - indent.length, 20);
  // hard: false leaves a word longer than the line whole (it overflows) rather than splitting it.
  return wrapAnsi(line.slice(indent.length), room, { hard: false, trim: true })
    .split('\n')
    .map((part) => `${indent}${part}`);
}

/** The text of a message, each line behind the bang; wrapped only when a width is given. */
export function formatMessage(
  kind: MessageKind,
  message: string,
  options: { suggestions?: readonly string[]; width?: number; bang?: string } = {},
): string {
  const { suggestions = [], width, bang = '›' } = options;
  const lines = `${kind}: ${message}`.split('\n');
  if (suggestions.length === 1) lines.push(`Try this: ${suggestions[0]}`);
  else if (suggestions.length > 1) lines.push('Try this:', ...suggestions.map((s) => `  * ${s}`));
  // oclif's own layout: a space, the bang, three spaces, the text.
  const body = width === undefined ? lines : lines.flatMap((line) => wrapLine(line, width - 6));
  return body.map((line) => (line === '' ? ` ${bang}` : ` ${bang}   ${line}`)).join('\n');
}

/** Writes one error or warning to `stream` (stderr), colored on a terminal as oclif colors it. */
export function writeMessage(
  kind: MessageKind,
  message: string,
  suggestions: readonly string[] = [],
  stream: MessageStream = process.stderr,
): void {
  // Colored only where it is seen: a log that stderr goes to gets no escape codes.
  const bang = stream.isTTY ? ux.colorize(kind === 'Error' ? 'red' : 'yellow', '›') : '›';
  stream.write(`${formatMessage(kind, message, { suggestions, width: messageWidth(stream), bang })}\n`);
}

interface PrintedError {
  skipOclifErrorHandling?: boolean;
  suggestions?: string[];
  oclif?: { exit?: number };
}

/** Whether oclif's handler would print this error (an exit request or one already printed it would not). */
export function isUnprinted(error: unknown): error is Error & PrintedError {
  if (!(error instanceof Error) || error instanceof Errors.ExitError) return false;
  if ((error as PrintedError).skipOclifErrorHandling) return false;
  // oclif's handler exits 1 on this one without a message.
  return error.message !== 'SIGINT';
}

/**
 * Prints an error oclif would otherwise print (masked, unwrapped off a terminal) and marks it as
 * printed, so that oclif's handler only takes its exit code from it.
 */
export function printError(error: Error & PrintedError): Error {
  const suggestions = error instanceof OprocError ? error.suggestions : (error.suggestions ?? []);
  const kind = error.name === 'Warning' ? 'Warning' : 'Error';
  writeMessage(kind, redact(error.message || String(error)), suggestions);
  return Object.assign(error, { skipOclifErrorHandling: true });
}

/** Counts in messages: `1 pass`, `2 passes` (kept where the engine's formatters can use it too). */
export { plural } from '../util/plural.js';
