/**
 * A real headless browser for the status page tests: Debian's chromium, started here on a fresh
 * profile with a DevTools port, driven by playwright-core over CDP, and stopped by PID. No browser is
 * ever downloaded. Where chromium is missing and CI is not set, `browserOrSkip` skips the suite with a
 * line saying so; on CI a missing chromium fails (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

import type { StatusReport } from '../../src/operations/status.js';

export const chromiumPath = process.env.OPROC_CHROMIUM ?? '/usr/bin/chromium';

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface RunningBrowser {
  pid: number;
  browser: Browser;
  context: BrowserContext;
  stop(): Promise<void>;
}

/** Starts chromium on a fresh profile and connects to it. */
export async function startBrowser(): Promise<RunningBrowser> {
  const profile = await mkdtemp(path.join(tmpdir(), 'oproc-chromium-'));
  const child = spawn(
    chromiumPath,
    [...chromiumArgs, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stopChild = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    // Its helper processes may still be writing the profile for a moment after it exits.
    await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
  try {
    const endpoint = await devToolsEndpoint(child);
    const browser = await chromium.connectOverCDP(endpoint);
    const context = browser.contexts()[0] ?? (await browser.newContext());
    return {
      pid: child.pid!,
      browser,
      context,
      stop: async () => {
        await browser.close().catch(() => {});
        await stopChild();
      },
    };
  } catch (error) {
    await stopChild();
    throw error;
  }
}

function devToolsEndpoint(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start:\n${seen}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chromium exited (${code}) before it listened:\n${seen}`));
    });
  });
}

/** Whether the browser tests can run here; outside CI a missing chromium skips them with a line saying so. */
export function browserOrSkip(context: Mocha.Context): void {
  if (existsSync(chromiumPath)) return;
  if (process.env.CI) throw new Error(`${chromiumPath} not found: CI must install chromium (.ci/run does)`);
  console.log(
    `      skipped: no chromium at ${chromiumPath} (apt-get install chromium, or set OPROC_CHROMIUM)`,
  );
  context.skip();
}

/** Every pass count the status page shows for a RAT version, as `oproc status --json` holds them. */
export async function pageCounts(page: Page, ratv: string): Promise<StatusReport['ratvs'][number]['passes']> {
  const cells = await page.$$eval(`td[data-ratv="${ratv}"][data-scope]`, (tds) =>
    tds.map((td) => {
      const { scope, module, status } = (td as HTMLElement).dataset;
      return { scope, module, status, value: Number(td.textContent) };
    }),
  );
  const counts: StatusReport['ratvs'][number]['passes'] = { newest: {}, all: {} };
  for (const cell of cells) {
    if (cell.value === 0) continue;
    const byModule = (counts[cell.scope as 'newest' | 'all'][cell.module!] ??= {});
    byModule[cell.status!] = cell.value;
  }
  return counts;
}

/**
 * What sticks out of its box in the page as it is now: the page wider than the window, a card whose
 * content is wider than the card (cut off, behind a scroll bar), or a table beyond its card's edge.
 */
export function cutOff(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > window.innerWidth) found.push(`page: ${root.scrollWidth} > ${window.innerWidth}`);
    for (const card of Array.from(document.querySelectorAll<HTMLElement>('.card'))) {
      const name = card.dataset.section ?? card.dataset.card ?? card.querySelector('h3')?.textContent;
      if (card.scrollWidth > card.clientWidth)
        found.push(`card ${name}: ${card.scrollWidth} > ${card.clientWidth}`);
      const inner = card.getBoundingClientRect().right - parseFloat(getComputedStyle(card).paddingRight);
      for (const table of Array.from(card.querySelectorAll('table'))) {
        const right = table.getBoundingClientRect().right;
        if (right > inner + 1) found.push(`table in ${name}: right ${right} > ${inner}`);
      }
    }
    return found;
  });
}
