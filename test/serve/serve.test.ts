import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import { expect } from 'chai';
import type { ConsoleMessage, Page } from 'playwright-core';

import type { StatusReport } from '../../src/operations/status.js';
import type { WhyReport } from '../../src/operations/why.js';
import type { JobDocument } from '../../src/engine/types.js';
import {
  browserOrSkip,
  cutOff as cutOffOf,
  pageCounts,
  startBrowser,
  type RunningBrowser,
} from '../support/browser.js';
import { json, oneLine, runCli } from '../support/cli.js';
import type { PassesResult } from '../../src/commands/passes.js';
import type { OutlistView } from '../../src/serve/server.js';
import { physicsRuns, scenario, type Scenario } from '../support/scenario.js';
import { startServe, type RunningServe } from '../support/serve.js';
import { couchServer } from '../support/servers.js';

const secret = 'hunter2-not-for-pages';

/** What changes between two reads of the same state: the time of reading, and heartbeat ages. */
function steady<T>(report: T): T {
  return JSON.parse(
    JSON.stringify(report, (key, value: unknown) =>
      key === 'generated' || key === 'heartbeat_age_seconds' ? typeof value : value,
    ),
  ) as T;
}

/** A user on pouchdb-server, so the config can carry a password in its URL (which must never be shown). */
async function couchUser(base: string, name: string, password: string): Promise<void> {
  const response = await fetch(`${base}/_users/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, roles: [], type: 'user' }),
  });
  if (!response.ok && response.status !== 409) throw new Error(`creating ${name}: ${await response.text()}`);
}

describe('oproc serve (pouchdb-server + PostgreSQL)', function () {
  this.timeout(180_000);
  let s: Scenario;
  let serve: RunningServe | undefined;
  let browser: RunningBrowser | undefined;
  let shots: string;
  let page: Page;
  const consoleErrors: string[] = [];

  const status = async (...ratv: string[]) =>
    json<StatusReport>(await runCli(['status', s.config, ...ratv, '--json']));
  const get = async (pathAndQuery: string) => {
    const response = await fetch(new URL(pathAndQuery, serve!.url));
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      text: await response.text(),
    };
  };

  before(async function () {
    s = await scenario('servers');
    // The config reaches pouchdb-server as a user with a password, as at the experiment.
    const couch = await couchServer();
    await couchUser(couch.url, 'shifter', secret);
    const site = JSON.parse(await readFile(s.config, 'utf8')) as Record<string, { url?: string }>;
    for (const role of ['processing', 'dataflow'] as const) {
      const url = new URL(site[role]!.url!);
      url.username = 'shifter';
      url.password = secret;
      site[role]!.url = url.href.replace(/\/$/, '');
    }
    await writeFile(s.config, JSON.stringify(site, null, 2));
    // 300003 lacks PMT_DQXX: the watcher stops before it, so 300003..300005 are the backlog.
    await s.addRuns([
      ...physicsRuns(300000, 300002),
      { run: 300003, missing: ['PMT_DQXX'] },
      ...physicsRuns(300004, 300006),
    ]);
    await runCli(['watch', s.config, s.ratv, 'L2', '--start-run', '299999', '--once', '--json']);
    await runCli(['reprocess', 'one-shot', s.config, s.ratv, 'L2', '300000', '--json']);
    shots = path.join(s.dir, 'screenshots');
    await mkdir(shots, { recursive: true });
    serve = await startServe(s.config);
  });

  after(async function () {
    this.timeout(60_000);
    await serve?.stop();
    // To look at the screenshots after the run: OPROC_KEEP_SCREENSHOTS=DIR.
    if (shots && process.env.OPROC_KEEP_SCREENSHOTS)
      await cp(shots, process.env.OPROC_KEEP_SCREENSHOTS, { recursive: true });
    await s?.cleanup();
  });

  it('answers /api/status with what oproc status --json prints, for all and for one RAT version', async () => {
    const all = await get('api/status');
    expect(all.status).to.equal(200);
    expect(all.type).to.match(/^application\/json/);
    expect(steady(JSON.parse(all.text))).to.deep.equal(steady(await status()));
    const one = await get(`api/status?ratv=${s.ratv}`);
    expect(steady(JSON.parse(one.text))).to.deep.equal(steady(await status(s.ratv)));
    const report = JSON.parse(one.text) as StatusReport;
    expect(report.ratvs[0]!.passes.all.Processing!.waiting).to.equal(4);
  });

  it('answers /api/runs/RUN with what oproc why --json prints', async () => {
    for (const run of [300000, 300003]) {
      const response = await get(`api/runs/${run}?ratv=${s.ratv}&filetype=L2`);
      expect(response.status).to.equal(200);
      const cli = json<WhyReport>(await runCli(['why', s.config, s.ratv, 'L2', String(run), '--json']));
      expect(steady(JSON.parse(response.text))).to.deep.equal(steady(cli));
    }
  });

  it('answers 404 for an unknown run, RAT version or path, 400 without ratv or filetype', async () => {
    const unknownRun = await get(`api/runs/123?ratv=${s.ratv}&filetype=L2`);
    expect(unknownRun.status).to.equal(404);
    expect(JSON.parse(unknownRun.text).error).to.match(/run 123 is not in the data-flow database/);
    const unknownRatv = await get('api/status?ratv=1.2.3');
    expect(unknownRatv.status).to.equal(404);
    expect(JSON.parse(unknownRatv.text).error).to.equal(
      `no processing information or passes for RAT version 1.2.3 (known: ${s.ratv})`,
    );
    expect((await get('api/runs/300000?ratv=1.2.3&filetype=L2')).status).to.equal(404);
    expect((await get('api/runs/abc?ratv=9.9.0&filetype=L2')).status).to.equal(404);
    expect((await get('runs/abc')).status).to.equal(404);
    expect((await get('api/submissions/sub_none')).status).to.equal(404);
    expect((await get('nothing/here')).status).to.equal(404);
    const noRatv = await get('api/runs/300000');
    expect(noRatv.status).to.equal(400);
    expect(JSON.parse(noRatv.text).error).to.match(/ratv is required/);
    expect((await get(`api/runs/300000?ratv=${s.ratv}&filetype=L3`)).status).to.equal(400);
  });

  /** An outlist naming passes that exist, one twice, and one that does not; written as a file. */
  async function writeOutlist(): Promise<string> {
    const file = path.join(s.dir, 'shifter.outlist');
    await writeFile(
      file,
      '# from a reprocess\nProcessing\t300000\t0\nProcessing   300000  1\nAnalysis\t300001\t0\nProcessing 300000 0\nAnalysis\t300000\t9\n',
    );
    return file;
  }
  const postOutlist = (text: string) =>
    fetch(new URL('api/outlist?name=shifter.outlist', serve!.url), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: text,
    });

  it('answers POST /api/outlist with the passes oproc passes --exactly lists, and the lines that name none', async () => {
    const file = await writeOutlist();
    const cli = json<PassesResult>(await runCli(['passes', s.config, '--exactly', file, '--json']));
    const response = await postOutlist(await readFile(file, 'utf8'));
    expect(response.status).to.equal(200);
    const view = (await response.json()) as OutlistView;
    expect(view.lines).to.equal(5);
    expect(view.total_passes).to.equal(cli.passes.length).and.to.equal(3);
    expect(view.passes).to.deep.equal(
      cli.passes.map(({ run, module, pass, status, ratv, filetype, created }) => ({
        run,
        module,
        pass,
        status,
        ratv,
        filetype,
        created,
      })),
    );
    expect(view.counts).to.deep.equal({ Analysis: { waiting: 1 }, Processing: { waiting: 2 } });
    expect(view.missing).to.deep.equal(cli.missing);
    expect(view.missing.map((m) => m.reason)).to.deep.equal(['job_300000_Analysis has passes 0, 1']);
  });

  it('answers 400 naming the line for an outlist line of another form, and for an empty outlist', async () => {
    const bad = await postOutlist('Processing\t300000\t1\nProcessing 300000\n');
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: string }).error).to.equal(
      'outlist shifter.outlist, line 2: expected MODULE RUN PASS, found "Processing 300000"',
    );
    const empty = await postOutlist('# nothing\n\n');
    expect(empty.status).to.equal(400);
    expect(((await empty.json()) as { error: string }).error).to.match(/names no passes/);
  });

  it('changes nothing: only GET and HEAD are answered, and the outlist POST only reads', async () => {
    const sequence = () => s.withDatabases((db) => db.processing.currentSeq!());
    const before = await sequence();
    const response = await fetch(new URL('api/status', serve!.url), { method: 'POST', body: '{}' });
    expect(response.status).to.equal(404);
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      expect((await fetch(new URL('api/outlist', serve!.url), { method })).status, method).to.equal(404);
    }
    expect((await postOutlist(await readFile(await writeOutlist(), 'utf8'))).status).to.equal(200);
    expect(await sequence()).to.equal(before);
  });

  it('never sends the password of the config, in any page, asset, answer or event', async () => {
    const report = await status(s.ratv);
    const paths = [
      '',
      'runs/300003',
      `submissions/${report.submissions[0]!.id}`,
      'api/meta',
      'api/status',
      `api/runs/300003?ratv=${s.ratv}&filetype=L2`,
      `api/submissions/${report.submissions[0]!.id}`,
      'assets/status.js',
      'api/runs/1?ratv=x',
    ];
    for (const p of paths) {
      const response = await get(p);
      expect(response.text, p).not.to.include(secret);
    }
    const meta = JSON.parse((await get('api/meta')).text) as { processing: string };
    expect(meta.processing).to.include('shifter');
    const events = await fetch(new URL('api/events', serve!.url));
    const reader = events.body!.getReader();
    let text = '';
    while (!text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).not.to.include(secret);
    expect(serve!.output().stdout + serve!.output().stderr).not.to.include(secret);
  });

  describe('in chromium', () => {
    before(async function () {
      browserOrSkip(this);
      browser = await startBrowser();
      page = await browser.context.newPage();
      await page.setViewportSize({ width: 1280, height: 900 });
      page.on('console', (message: ConsoleMessage) => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      page.on('pageerror', (error) => consoleErrors.push(error.message));
    });

    after(async function () {
      this.timeout(60_000);
      await browser?.stop();
    });

    it('shows in the browser the numbers oproc status --json prints, with no console errors', async () => {
      await page.goto(serve!.url);
      await page.waitForSelector('body[data-rendered]');
      const report = await status();
      const ratv = report.ratvs.find((r) => r.ratv === s.ratv)!;
      expect(await pageCounts(page, s.ratv)).to.deep.equal(ratv.passes);
      // The watcher ran with --once: it stopped cleanly, releasing its lease. Stopped, not stale.
      const watchers = await page.$$eval('tr[data-testid="watcher"]', (rows) =>
        rows.map((r) => ({
          filetype: (r as HTMLElement).dataset.filetype,
          state: (r as HTMLElement).dataset.state,
          text: r.querySelector('[data-testid="watcher-state"]')!.textContent,
        })),
      );
      expect(watchers.map((w) => w.filetype)).to.deep.equal(ratv.watchers.map((w) => w.filetype));
      expect(watchers.map((w) => w.state)).to.deep.equal(['stopped']);
      expect(watchers[0]!.text).to.match(/^stopped at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      expect(await page.locator('[data-testid="stale-alert"], .badge.bad').count()).to.equal(0);
      const backlog = await page.$$eval('tr[data-testid="backlog-run"]', (rows) =>
        rows.map((r) => ({
          run: Number((r as HTMLElement).dataset.run),
          verdict: r.children[1]!.textContent,
        })),
      );
      expect(backlog).to.deep.equal(ratv.watchers.flatMap((w) => w.backlog_runs));
      expect(backlog.map((b) => b.run)).to.deep.equal([300003, 300004, 300005]);
      const submissions = await page.$$eval('tr[data-testid="submission"]', (rows) =>
        rows.map((r) => (r as HTMLElement).dataset.id),
      );
      expect(submissions).to.deep.equal(report.submissions.map((x) => x.id));
      // The chart is drawn (Vega-Lite, from the installed package) with one bar per module and status.
      expect(await page.locator('section.ratv .chart svg .mark-rect path').count()).to.be.greaterThan(0);
      await page.screenshot({ path: path.join(shots, 'status.png'), fullPage: true });
      expect((await stat(path.join(shots, 'status.png'))).size).to.be.greaterThan(10_000);
      expect(consoleErrors).to.deep.equal([]);
    });

    it('shows a new pass and a status a grid client changed, without reloading', async () => {
      await page.goto(serve!.url);
      await page.waitForSelector('body[data-rendered]');
      await page.waitForSelector('#live[data-state="live"]');
      await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
      const cell = (scope: string, module: string, status: string) =>
        `td[data-ratv="${s.ratv}"][data-scope="${scope}"][data-module="${module}"][data-status="${status}"]`;
      const before = Number(await page.textContent(cell('all', 'Processing', 'waiting')));

      await runCli(['reprocess', 'one-shot', s.config, s.ratv, 'L2', '300001', '--json']);
      await page.waitForFunction(
        ([selector, count]) => Number(document.querySelector(selector as string)?.textContent) === count,
        [cell('all', 'Processing', 'waiting'), before + 1] as const,
        { timeout: 20_000 },
      );

      // A grid client picks the newest pass of run 300002's Processing up.
      await s.withDatabases(async (db) => {
        const id = 'job_300002_Processing';
        const job = (await db.processing.getMany([id])).get(id) as unknown as JobDocument;
        job.passes[job.passes.length - 1]!.status = 'running';
        const [result] = await db.processing.bulkWrite([job as never]);
        expect(result!.ok).to.equal(true);
      });
      await page.waitForFunction(
        (selector) => document.querySelector(selector)?.textContent === '1',
        cell('newest', 'Processing', 'running'),
        { timeout: 20_000 },
      );
      expect(
        await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
      ).to.equal(true);
      const report = await status();
      expect(await pageCounts(page, s.ratv)).to.deep.equal(
        report.ratvs.find((r) => r.ratv === s.ratv)!.passes,
      );
      await page.screenshot({ path: path.join(shots, 'status-live.png'), fullPage: true });
      expect(consoleErrors).to.deep.equal([]);
    });

    it('shows on /runs/RUN the verdict oproc why --json gives', async () => {
      await page.goto(serve!.url);
      await page.waitForSelector('body[data-rendered]');
      await page.click('tr[data-testid="backlog-run"][data-run="300003"] a');
      await page.waitForSelector('[data-testid="verdict"]');
      const cli = json<WhyReport>(await runCli(['why', s.config, s.ratv, 'L2', '300003', '--json']));
      expect(await page.textContent('[data-testid="verdict"]')).to.equal(cli.verdict);
      expect(cli.verdict).to.match(/PMT_DQXX/);
      expect(new URL(page.url()).pathname).to.equal('/runs/300003');
      await page.screenshot({ path: path.join(shots, 'run-300003.png'), fullPage: true });
      await page.goto(new URL(`runs/300000?ratv=${s.ratv}&filetype=L2`, serve!.url).href);
      await page.waitForSelector('[data-testid="verdict"]');
      const handled = json<WhyReport>(await runCli(['why', s.config, s.ratv, 'L2', '300000', '--json']));
      expect(await page.textContent('[data-testid="verdict"]')).to.equal(handled.verdict);
      expect(await page.locator('[data-section="passes"] tbody tr').count()).to.equal(handled.passes.length);
      await page.screenshot({ path: path.join(shots, 'run-300000.png'), fullPage: true });
      expect(consoleErrors).to.deep.equal([]);
    });

    it('shows the passes of a submission, linked from the last submissions', async () => {
      await page.goto(serve!.url);
      await page.waitForSelector('body[data-rendered]');
      const report = await status();
      const newest = report.submissions[0]!;
      await page.click(`tr[data-testid="submission"][data-id="${newest.id}"] a`);
      await page.waitForSelector('body[data-rendered]');
      const passes = await runCli(['passes', s.config, '--submission', newest.id]);
      const lines = passes.stdout.trim().split('\n').slice(1);
      expect(await page.locator('tr[data-testid="pass"]').count()).to.equal(lines.length);
      expect(lines.length).to.be.greaterThan(0);
      await page.screenshot({ path: path.join(shots, 'submission.png'), fullPage: true });
      expect(consoleErrors).to.deep.equal([]);
    });

    it('shows the passes of an outlist chosen on the page, linked from the status page', async () => {
      await page.goto(serve!.url);
      await page.waitForSelector('body[data-rendered]');
      await page.click('#outlist-link');
      await page.waitForSelector('body[data-rendered="empty"]');
      const file = await writeOutlist();
      await page.setInputFiles('#outlist-file', file);
      await page.waitForSelector('[data-testid="outlist-summary"]');
      const cli = json<PassesResult>(await runCli(['passes', s.config, '--exactly', file, '--json']));
      expect(await page.textContent('[data-testid="outlist-summary"]')).to.equal(
        `shifter.outlist: 5 lines, ${cli.passes.length} passes found`,
      );
      const shown = await page.$$eval('tr[data-testid="pass"]', (rows) =>
        rows.map((r) =>
          Array.from(r.children)
            .slice(0, 4)
            .map((td) => td.textContent)
            .join(' '),
        ),
      );
      expect(shown).to.deep.equal(cli.passes.map((p) => `${p.run} ${p.module} ${p.pass} ${p.status}`));
      expect(await page.locator('tr[data-testid="missing"]').count()).to.equal(cli.missing.length);
      expect(await page.locator('.chart svg .mark-rect path').count()).to.be.greaterThan(0);
      await page.screenshot({ path: path.join(shots, 'outlist.png'), fullPage: true });
      // Kept for the tab: a reload shows the same passes.
      await page.reload();
      await page.waitForSelector('[data-testid="outlist-summary"]');
      expect(await page.locator('tr[data-testid="pass"]').count()).to.equal(cli.passes.length);
      expect(consoleErrors).to.deep.equal([]);
    });

    const cutOff = () => cutOffOf(page);

    it('cuts nothing off at 1280 px: the status page, run pages and the choice of versions', async () => {
      const paths = [
        '',
        `runs/300000?ratv=${s.ratv}&filetype=L2`,
        `runs/300003?ratv=${s.ratv}&filetype=L2`,
        'runs/300000',
      ];
      for (const p of paths) {
        await page.goto(new URL(p, serve!.url).href);
        await page.waitForSelector('body[data-rendered]');
        expect(await cutOff(), p || '/').to.deep.equal([]);
      }
      expect(consoleErrors).to.deep.equal([]);
    });

    it('names columns in words a shifter uses, not field names', async () => {
      await page.goto(new URL(`runs/300000?ratv=${s.ratv}&filetype=L2`, serve!.url).href);
      await page.waitForSelector('[data-testid="verdict"]');
      const headers = () =>
        page.$$eval('thead th, dt', (cells) => cells.map((c) => c.textContent!.trim()).filter(Boolean));
      const run = await headers();
      expect(
        await page.$$eval('[data-section="watchers"] thead th', (c) => c.map((x) => x.textContent)),
      ).to.deep.equal([
        'Watcher',
        'State',
        'Last run handled',
        'Unfinished submission',
        'Held by',
        'Last heartbeat',
        'Lease until',
      ]);
      await page.goto(serve!.url);
      await page.waitForSelector('body[data-rendered]');
      const index = await headers();
      expect(index).to.include.members(['Last heartbeat', 'Last run handled', 'Newest complete run']);
      for (const text of [...run, ...index]) {
        expect(text, text).not.to.match(/_|seconds|validto|^Set at$|^Heartbeat$|^Expires$|^In flight$/i);
      }
    });

    it('gives each status its own colour: waiting and canceled do not look alike', async () => {
      const cancel = await runCli(['cancel', s.config, s.ratv, '-m', 'Analysis', '--run', '300001', '--yes']);
      expect(cancel.code, cancel.stderr).to.equal(0);
      await page.goto(serve!.url);
      await page.waitForSelector(`td[data-scope="all"][data-status="canceled"]`, { state: 'attached' });
      const chip = (status: string) =>
        page.$eval(
          `table.counts thead .chip[data-status="${status}"]`,
          (e) => getComputedStyle(e).backgroundColor,
        );
      const rgb = (css: string) => css.match(/\d+/g)!.slice(0, 3).map(Number);
      const distance = (a: number[], b: number[]) => Math.hypot(...a.map((x, i) => x - b[i]!));
      const waiting = rgb(await chip('waiting'));
      const canceled = rgb(await chip('canceled'));
      expect(distance(waiting, canceled), `waiting ${waiting}, canceled ${canceled}`).to.be.greaterThan(80);
      // Waiting is the grey: canceled is a colour, not a darker grey (HSL saturation).
      const saturation = (c: number[]) => {
        const [max, min] = [Math.max(...c), Math.min(...c)];
        const lightness = (max + min) / 510;
        return max === min ? 0 : (max - min) / 255 / (1 - Math.abs(2 * lightness - 1));
      };
      expect(saturation(canceled), `canceled ${canceled}`).to.be.greaterThan(0.3);
      // And so for every pair of the ten statuses, as the page draws them.
      const colours = await page.evaluate(async () => {
        const common = (await import(new URL('assets/common.js', location.href).href)) as {
          statusColours: Record<string, string>;
        };
        return Object.entries(common.statusColours).map(([status, hex]) => {
          const chipElement = document.createElement('span');
          chipElement.style.color = hex;
          document.body.append(chipElement);
          const value = getComputedStyle(chipElement).color;
          chipElement.remove();
          return [status, value] as const;
        });
      });
      for (const [i, [a, ca]] of colours.entries()) {
        for (const [b, cb] of colours.slice(i + 1)) {
          expect(distance(rgb(ca), rgb(cb)), `${a} ${ca} and ${b} ${cb}`).to.be.greaterThan(60);
        }
      }
    });

    it("puts today's bar on today's tick in the runs per day, in a shifter's time zone too", async () => {
      const report = await status(s.ratv);
      const days = report.ratvs[0]!.handled_per_day;
      const today = days[days.length - 1]!;
      expect(today.runs).to.be.greaterThan(0);
      const context = await browser!.browser.newContext({
        timezoneId: 'America/Toronto',
        viewport: { width: 1280, height: 900 },
      });
      try {
        const local = await context.newPage();
        await local.goto(serve!.url);
        await local.waitForSelector('body[data-rendered]');
        const placed = await local.$eval('[data-card="days"] svg', (svg) => ({
          labels: Array.from(
            svg.querySelectorAll('.role-axis[aria-label^="X-axis"] .role-axis-label text'),
          ).map((t) => ({
            text: t.textContent,
            x: t.getBoundingClientRect().left + t.getBoundingClientRect().width / 2,
          })),
          bars: Array.from(svg.querySelectorAll('.mark-rect path'))
            .map((b) => b.getBoundingClientRect())
            .filter((b) => b.height > 0.5)
            .map((b) => ({ x: b.left + b.width / 2 })),
        }));
        const tick = placed.labels.find((l) => l.text === 'today');
        expect(tick, JSON.stringify(placed.labels)).to.not.equal(undefined);
        // Today's is the rightmost bar drawn (the only day with runs in this scenario).
        const bar = placed.bars.reduce((a, b) => (b.x > a.x ? b : a));
        expect(Math.abs(bar.x - tick!.x), JSON.stringify(placed)).to.be.lessThan(1.5);
        // The other labelled ticks are 7, 14 and 21 days earlier, in UTC days as the report counts them.
        const week = (back: number) =>
          new Date(`${days[days.length - 1 - back]!.day}T00:00:00Z`).toLocaleDateString('en-US', {
            month: 'short',
            day: '2-digit',
            timeZone: 'UTC',
          });
        expect(placed.labels.map((l) => l.text)).to.deep.equal([week(21), week(14), week(7), 'today']);
      } finally {
        await context.close();
      }
    });

    it('uses the width: at 1280 px the runs per day stand beside the passes, the backlog beside the watchers', async () => {
      await page.goto(serve!.url);
      await page.waitForSelector('body[data-rendered]');
      const box = (card: string) =>
        page.$eval(`section.ratv [data-card="${card}"]`, (e) => {
          const r = e.getBoundingClientRect();
          return { left: r.left, top: r.top, right: r.right };
        });
      const [passes, days, watchers, backlog] = await Promise.all(
        ['passes', 'days', 'watchers', 'backlog'].map(box),
      );
      expect(days.left).to.be.greaterThan((2 / 3) * 1280 - 40);
      expect(days.top).to.equal(passes.top);
      expect(backlog.top).to.equal(watchers.top);
      expect(backlog.right).to.be.greaterThan(1200);
    });

    it('/runs/RUN without a RAT version lists those with a watcher or a pass of the run, and picks none', async () => {
      const api = JSON.parse((await get('api/runs/300000/versions')).text) as {
        versions: { ratv: string; filetype: string; passes: number; watchers: unknown[] }[];
      };
      expect(api.versions.map((v) => [v.ratv, v.filetype, v.passes, v.watchers.length])).to.deep.equal([
        [s.ratv, 'L2', 4, 1],
      ]);
      await page.goto(new URL('runs/300000', serve!.url).href);
      await page.waitForSelector('body[data-rendered]');
      expect(await page.locator('[data-testid="verdict"]').count()).to.equal(0);
      const listed = await page.$$eval('tr[data-testid="version"]', (rows) =>
        rows.map((r) => [(r as HTMLElement).dataset.ratv, (r as HTMLElement).dataset.filetype]),
      );
      expect(listed).to.deep.equal([[s.ratv, 'L2']]);
      await page.click(`tr[data-testid="version"] a`);
      await page.waitForSelector('[data-testid="verdict"]');
      expect(new URL(page.url()).search).to.equal(`?ratv=${s.ratv}&filetype=L2`);
      // A run with no pass yet: the watcher that will take it, still no version chosen.
      await page.goto(new URL('runs/300006', serve!.url).href);
      await page.waitForSelector('tr[data-testid="version"]');
      expect(
        await page.$$eval('tr[data-testid="version"] td', (c) => c.map((x) => x.textContent)),
      ).to.deep.equal(['0', `watch_${s.ratv}_L2 (last run 300002)`, '']);
      expect(await page.locator('[data-testid="verdict"]').count()).to.equal(0);
      expect(consoleErrors).to.deep.equal([]);
    });

    it('says one thing of a handled run: no "Would create" beside "already handled"', async () => {
      await page.goto(new URL(`runs/300000?ratv=${s.ratv}&filetype=L2`, serve!.url).href);
      await page.waitForSelector('[data-testid="verdict"]');
      expect(await page.textContent('[data-testid="verdict"]')).to.match(/^already handled/);
      const plan = await page.textContent('[data-section="plan"]');
      expect(plan).not.to.match(/Would create|Create/);
      expect(await page.textContent('[data-testid="plan"]')).to.equal(
        'Nothing: the run is already handled (see the verdict above).',
      );
      // Where the next cycle would act, the plan says what it would create.
      await page.goto(new URL(`runs/300006?ratv=${s.ratv}&filetype=L2`, serve!.url).href);
      await page.waitForSelector('[data-testid="verdict"]');
      expect(await page.textContent('[data-testid="verdict"]')).not.to.match(/^already handled/);
    });

    it('answers a RAT version nobody knows with 404 naming the known ones, page and API alike', async () => {
      for (const p of [
        '?ratv=1.2.3',
        'runs/300000?ratv=1.2.3&filetype=L2',
        'api/status?ratv=1.2.3',
        'api/runs/300000?ratv=1.2.3&filetype=L2',
      ]) {
        const response = await get(p);
        expect(response.status, p).to.equal(404);
        expect(response.text, p).to.include(`RAT version 1.2.3 (known: ${s.ratv})`);
      }
      await page.goto(new URL('?ratv=1.2.3', serve!.url).href);
      await page.waitForSelector('body[data-rendered="error"]');
      expect(await page.textContent('#error')).to.include(`RAT version 1.2.3 (known: ${s.ratv})`);
      await page.goto(new URL('runs/300000?ratv=1.2.3&filetype=L2', serve!.url).href);
      await page.waitForSelector('body[data-rendered="error"]');
      expect(await page.textContent('#error')).to.include(`RAT version 1.2.3 (known: ${s.ratv})`);
      // The browser logs each 404 it was given; nothing else went wrong.
      expect(consoleErrors.filter((e) => !e.includes('status of 404'))).to.deep.equal([]);
      consoleErrors.splice(0);
    });

    it('opens a run by number from a box on every page', async () => {
      const report = await status(s.ratv);
      for (const p of ['', 'runs/300000', `submissions/${report.submissions[0]!.id}`, 'outlist']) {
        await page.goto(new URL(p, serve!.url).href);
        expect(await page.locator('form#open-run input[name="run"]').count(), p).to.equal(1);
      }
      await page.goto(serve!.url);
      await page.fill('#open-run-number', '300003');
      await page.press('#open-run-number', 'Enter');
      await page.waitForURL((url) => url.pathname === '/runs/300003');
      await page.waitForSelector('tr[data-testid="version"]');
      // From a run page it keeps the RAT version and filetype shown.
      await page.goto(new URL(`runs/300000?ratv=${s.ratv}&filetype=L2`, serve!.url).href);
      await page.waitForSelector('[data-testid="verdict"]');
      await page.fill('#open-run-number', '300003');
      await page.click('#open-run button');
      await page.waitForURL((url) => url.pathname === '/runs/300003' && url.search !== '');
      await page.waitForSelector('[data-testid="verdict"]');
      expect(await page.textContent('[data-testid="verdict"]')).to.match(/PMT_DQXX/);
      // Without a script the form still leads there.
      const plain = await fetch(new URL('runs/?run=300003', serve!.url), { redirect: 'manual' });
      expect(plain.status).to.equal(302);
      expect(new URL(plain.headers.get('location')!, new URL('runs/', serve!.url)).pathname).to.equal(
        '/runs/300003',
      );
      expect(consoleErrors).to.deep.equal([]);
    });

    it('shows a watcher whose heartbeat stopped without releasing its lease as stale, in red', async () => {
      // As a watcher killed outright leaves it: its lease runs to its full term after the last heartbeat.
      const heartbeat = new Date(Date.now() - 10 * 60_000);
      const docs = [
        { _id: `watch_${s.ratv}_L1`, type: 'watch_state', ratv: s.ratv, filetype: 'L1', last_run: 300001 },
        {
          _id: `lease_watch_${s.ratv}_L1`,
          type: 'lease',
          holder: 'shifter@elsewhere pid 4242 abcdef',
          host: 'elsewhere',
          pid: 4242,
          acquired: heartbeat.toISOString(),
          heartbeat: heartbeat.toISOString(),
          expires: new Date(heartbeat.getTime() + 60_000).toISOString(),
        },
      ];
      await s.withDatabases((db) => db.processing.bulkWrite(docs as never));
      try {
        await page.goto(serve!.url);
        await page.waitForSelector('tr[data-testid="watcher"][data-filetype="L1"]');
        const states = await page.$$eval('tr[data-testid="watcher"]', (rows) =>
          Object.fromEntries(
            rows.map((r) => [(r as HTMLElement).dataset.filetype, (r as HTMLElement).dataset.state]),
          ),
        );
        expect(states).to.deep.equal({ L1: 'stale', L2: 'stopped' });
        expect(await page.textContent('[data-testid="stale-alert"]')).to.include(
          `RAT ${s.ratv} L1: watcher is stale`,
        );
        const red = await page.$eval(
          'tr[data-state="stale"] .badge',
          (e) => getComputedStyle(e).backgroundColor,
        );
        const grey = await page.$eval(
          'tr[data-state="stopped"] .badge',
          (e) => getComputedStyle(e).backgroundColor,
        );
        expect(red).to.equal('rgb(214, 69, 65)');
        expect(grey).not.to.equal(red);
      } finally {
        await s.withDatabases(async (db) => {
          const found = await db.processing.getMany(docs.map((d) => d._id));
          await db.processing.bulkWrite(
            [...found.values()].map((d) => ({ _id: d._id, _rev: d._rev!, _deleted: true })) as never,
          );
        });
      }
    });

    it('ends cleanly on SIGINT with a page open, exit 0', async () => {
      await page.goto(serve!.url);
      await page.waitForSelector('#live[data-state="live"]');
      const code = await serve!.stop();
      expect(code, serve!.output().stderr).to.equal(0);
      expect(serve!.output().stderr).to.include('SIGINT: stopping the status page');
      serve = undefined;
    });
  });
});

describe('oproc serve: bad input', function () {
  this.timeout(120_000);
  let s: Scenario;
  before(async () => {
    s = await scenario('servers');
  });
  after(() => s.cleanup());

  it('exits 2 with a clear message when the port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const result = await runCli(['serve', s.config, '--port', String(port)]);
      expect(result.code).to.equal(2);
      expect(oneLine(result.stderr)).to.include(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('exits 2 on a bad config, before listening', async () => {
    const bad = path.join(s.dir, 'bad.json');
    await writeFile(bad, '{ "processing": {} }');
    const result = await runCli(['serve', bad, '--port', '0']);
    expect(result.code).to.equal(2);
    expect(oneLine(result.stderr)).to.match(/processing\.backend/);
    const missing = await runCli(['serve', path.join(s.dir, 'none.json'), '--port', '0']);
    expect(missing.code).to.equal(2);
    expect(oneLine(missing.stderr)).to.include('no such file');
  });
});

describe('oproc serve: Ctrl-C', function () {
  this.timeout(180_000);
  let s: Scenario;
  before(async () => {
    s = await scenario('servers');
    await s.addRuns(physicsRuns(300000, 300002));
  });
  after(() => s.cleanup());

  /** Opens the event stream as a page does and reads until the first status arrives. */
  async function attachPage(url: string): Promise<AbortController> {
    const abort = new AbortController();
    const response = await fetch(new URL('api/events', url), { signal: abort.signal });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
    // Keep reading (as a page does) until the server ends the stream.
    void (async () => {
      while (!(await reader.read().catch(() => ({ done: true }))).done);
    })();
    return abort;
  }

  it('ends within 2 s of SIGINT with a page attached, closing its change feeds, every time (5 rounds)', async () => {
    for (let round = 1; round <= 5; round++) {
      const serve = await startServe(s.config);
      let page: AbortController | undefined;
      try {
        page = await attachPage(serve.url);
        // SIGINT at different moments of the change feed's long-poll.
        await new Promise((resolve) => setTimeout(resolve, 300 * round));
        const sent = Date.now();
        const code = await serve.stop(10_000);
        const took = Date.now() - sent;
        expect(code, `round ${round}: ${serve.output().stderr}`).to.equal(0);
        expect(
          took,
          `round ${round}: exit ${took} ms after SIGINT; stderr: ${serve.output().stderr}`,
        ).to.be.at.most(2000);
        expect(serve.output().stderr).to.include('SIGINT: stopping the status page');
      } finally {
        page?.abort();
        await serve.stop(1000);
      }
    }
  });
});
