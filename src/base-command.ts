import { existsSync } from 'node:fs';
import path from 'node:path';

import { Command, Errors } from '@oclif/core';

import {
  BackendRegistry,
  openDatabases,
  type DatabaseSelection,
  type Databases,
  type OpenOptions,
} from './backends/registry.js';
import { isUnprinted, printError, writeMessage } from './cli/messages.js';
import { explainParseError } from './cli/parse-errors.js';
import { loadConfig, type OprocConfig } from './config/load.js';
import { ExitCode, OprocError } from './errors.js';
import { redact } from './util/mask.js';
import { writeJson } from './util/json-out.js';

/**
 * What every oproc command shares: `--json`, loading CONFIG, opening databases through the
 * backend plugins, and turning errors into a message and an exit code (never a stack trace).
 */
export abstract class OprocCommand extends Command {
  static override enableJsonFlag = true;

  private openedDatabases: Databases[] = [];
  private readonly abort = new AbortController();
  /** The signal that asked the command to stop, if one did. */
  protected stoppedBySignal: NodeJS.Signals | undefined;

  /** SIGINT/SIGTERM: finish the batch in flight, record progress, then stop; a second signal stops at once. */
  protected stopOnSignals(): void {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      this.stoppedBySignal = signal;
      process.stderr.write(
        `\n${signal}: finishing the batch in flight, then stopping (again to stop at once)\n`,
      );
      this.abort.abort();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }

  protected get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  protected get stopSignal(): AbortSignal {
    return this.abort.signal;
  }

  /**
   * CONFIG: a file, or the name of one saved with `oproc configs add` (user settings, kept with
   * conf). The settings are read only when CONFIG is not a file: conf and its schema validator
   * cost some 50 ms of start-up, on every command.
   */
  protected async loadConfig(file: string): Promise<OprocConfig> {
    if (existsSync(file)) return loadConfig(file);
    // No settings file, no saved names: say the file is not there, and create no settings file (conf
    // writes its defaults when opened). The name is conf's for configName "settings" (config/user.ts).
    if (!existsSync(path.join(this.config.configDir, 'settings.json'))) return loadConfig(file);
    const { UserSettingsStore } = await import('./config/user.js');
    return loadConfig(new UserSettingsStore(this.config.configDir).resolve(file));
  }

  protected async backends(): Promise<BackendRegistry> {
    return BackendRegistry.fromOclif(this.config);
  }

  /**
   * Opens the databases the command needs; they are closed when the command ends, however it ends.
   * A command that only reads passes `{ create: false }`: a database that is not there is an error.
   */
  protected async openDatabases(
    config: OprocConfig,
    want?: DatabaseSelection,
    options?: OpenOptions,
  ): Promise<Databases> {
    const databases = await openDatabases(await this.backends(), config, want, options);
    this.openedDatabases.push(databases);
    return databases;
  }

  /**
   * The `--json` result as plain JSON, colored only on a terminal. oclif colors by tokenizing the
   * whole text with regular expressions, which for a reprocess of 50,000 runs (100,000 passes)
   * briefly cost more memory than the whole reprocess; scripts and pipes want plain JSON anyway.
   * It is written in pieces (`writeJson`), never held as one string, and each piece is written
   * before the next is made: to a pipe or socket whose reader is slower than oproc, Node queues
   * what the kernel does not take at once, and the queue held most of a 30 MB result (a reprocess
   * of 200,000 runs under a parent process). Blocking writes wait for the reader instead.
   */
  override logJson(json: unknown): void {
    if (process.stdout.isTTY) {
      super.logJson(json);
      return;
    }
    blockingWrites(process.stdout);
    writeJson((text) => process.stdout.write(text), json);
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    const opened = this.openedDatabases.splice(0);
    await Promise.allSettled(opened.map((db) => db.close()));
    return super.finally(error);
  }

  /**
   * A warning on stderr, on one line off a terminal and never split inside a word on one. Under
   * --json too (oclif drops them there): stdout stays the result alone, and a warning is never lost.
   */
  override warn(input: string | Error): string | Error {
    writeMessage('Warning', redact(typeof input === 'string' ? input : input.message));
    return input;
  }

  /** An error under --json: `{ "error": { "code", "message" } }`, the exit code and the masked message, nothing of oclif's. */
  protected override toErrorJson(error: unknown): unknown {
    const e = error as { message?: unknown; exitCode?: unknown; oclif?: { exit?: unknown } };
    const code =
      typeof e.exitCode === 'number'
        ? e.exitCode
        : typeof e.oclif?.exit === 'number'
          ? e.oclif.exit
          : ExitCode.Partial;
    const message = redact(typeof e.message === 'string' ? e.message : String(error));
    return { error: { code, message } };
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    // oclif's own errors (parse errors, exit requests) keep their exit codes; one already printed (by a command
    // this one ran) is passed on as it is.
    const ours = isUnprinted(error) && (error as { oclif?: unknown }).oclif === undefined;
    // A mistyped flag or a missing argument: a short message, not the whole help.
    let shown: Error = explainParseError(error, this.ctor, this.config, this.id) ?? error;
    if (ours) {
      // Ours: the message as written, masked. Anything else (a database gone for good, a bug): exit 1.
      const code = error instanceof OprocError ? error.exitCode : ExitCode.Partial;
      const suggestions = error instanceof OprocError ? error.suggestions : [];
      const cliError = new Errors.CLIError(redact(error.message ?? String(error)), {
        exit: code,
        suggestions,
      });
      process.exitCode = code;
      shown = Object.assign(cliError, { exitCode: code });
    }
    if (this.jsonEnabled()) {
      // A parse error (unknown flag) carries its exit code only in oclif's field: exit with the code the JSON names.
      const exit = (shown as { oclif?: { exit?: unknown } }).oclif?.exit;
      if (process.exitCode === undefined && typeof exit === 'number') process.exitCode = exit;
      return super.catch(shown);
    }
    if (!isUnprinted(shown)) return super.catch(shown);
    // oclif would print it hard-wrapped at 80 columns: print it here, and let oclif take only the exit code.
    printError(shown);
    throw shown;
  }
}

/**
 * Makes a stdio stream's writes block until the kernel has taken them (a pipe or socket; files and
 * terminals are written synchronously already). Node exposes this only on the stream's handle.
 */
function blockingWrites(stream: NodeJS.WriteStream): void {
  const handle = (stream as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } })._handle;
  handle?.setBlocking?.(true);
}
