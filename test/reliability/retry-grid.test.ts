import { expect } from 'chai';

import type { PassChangeResult } from '../../src/cli/pass-change-command.js';
import type { Databases } from '../../src/backends/registry.js';
import type { SubmissionResult } from '../../src/engine/reprocess.js';
import type { JobDocument } from '../../src/engine/types.js';
import { json, runCli } from '../support/cli.js';
import { physicsRuns, scenario, type Scenario } from '../support/scenario.js';
import { onTerminal } from '../support/terminal.js';
import { docsWithPrefix } from './support.js';

const full = process.env.OPROC_RELIABILITY_FULL === '1';
const first = 600000;
const runCount = full ? 2000 : 100;

type Kind = 'retry' | 'cancel';
/** What the passes are before the command, and what it makes of them. */
const initial: Record<Kind, string> = { retry: 'failed', cancel: 'running' };
const target: Record<Kind, string> = { retry: 'waiting', cancel: 'canceled' };

/**
 * A grid change: `late` sets a pass to completed (its job finished after all: the pass no longer
 * matches); `subjob` sets its first subjob to completed (the pass still matches).
 */
interface GridChange {
  id: string;
  kind: 'late' | 'subjob';
}

/** Makes grid changes with the revision read; on a 409 reads again and redoes them, as grid tools do. */
async function gridWrite(db: Databases, wanted: readonly GridChange[]): Promise<number> {
  let conflicts = 0;
  let pending = [...wanted];
  for (let attempt = 0; pending.length && attempt < 50; attempt++) {
    const docs = await db.processing.getMany(pending.map((c) => c.id));
    const edits = pending.map((change) => {
      const doc = docs.get(change.id) as JobDocument;
      const passes = doc.passes.map((p) =>
        change.kind === 'late'
          ? { ...p, status: 'completed', subjobs: p.subjobs.map((j) => ({ ...j, status: 'completed' })) }
          : { ...p, subjobs: p.subjobs.map((j, i) => (i === 0 ? { ...j, status: 'completed' } : j)) },
      );
      return { ...doc, passes };
    });
    const results = await db.processing.bulkWrite(edits);
    const again: GridChange[] = [];
    results.forEach((r, i) => {
      if (r.ok) return;
      if (r.error !== 'conflict')
        throw new Error(`grid client: writing ${pending[i]!.id} failed: ${r.error}`);
      conflicts++;
      again.push(pending[i]!);
    });
    pending = again;
  }
  if (pending.length) throw new Error(`grid client: ${pending.length} change(s) kept conflicting`);
  return conflicts;
}

/** The JSON result at the end of what a terminal showed (after the question). */
function resultOf(output: string): PassChangeResult {
  const start = output.lastIndexOf('\n{\n');
  return JSON.parse(output.slice(start + 1)) as PassChangeResult;
}

for (const kind of ['retry', 'cancel'] as const) {
  describe(`reliability: a grid client writes the job documents while ${kind} changes them (pouchdb-server + PostgreSQL)`, function () {
    this.timeout(full ? 900_000 : 180_000);
    let s: Scenario;
    let ids: string[];

    before(async () => {
      s = await scenario('servers');
      await s.addRuns([
        ...physicsRuns(first, first + runCount - 1, { subruns: 2, filetypes: ['L2'] }),
        { run: first + runCount },
      ]);
      const made = await runCli([
        'reprocess',
        'range',
        s.config,
        s.ratv,
        'L2',
        String(first),
        String(first + runCount - 1),
        '--json',
      ]);
      expect(made.code, made.stderr).to.equal(0);
      expect(json<SubmissionResult>(made).created).to.have.length(2 * runCount);
      await s.withDatabases(async (db) => {
        const jobs = (await docsWithPrefix(db, 'job_')) as JobDocument[];
        ids = jobs.map((d) => d._id);
        const set = jobs.map((doc) => ({
          ...doc,
          passes: doc.passes.map((p) => ({
            ...p,
            status: initial[kind],
            subjobs: p.subjobs.map((j) => ({ ...j, status: initial[kind] })),
          })),
        }));
        for (let i = 0; i < set.length; i += 1000) await db.processing.bulkWrite(set.slice(i, i + 1000));
      });
    });
    after(() => s.cleanup());

    it('keeps every grid change, changes what still matches, and reports what stopped matching (exit 1)', async () => {
      // While the question is open: a fifth of the passes finish late, a fifth get a subjob done.
      const whileAsked: GridChange[] = ids.flatMap((id, i): GridChange[] =>
        i % 5 === 0 ? [{ id, kind: 'late' }] : i % 5 === 1 ? [{ id, kind: 'subjob' }] : [],
      );
      const duringWrite: GridChange[] = [];
      let writing = true;
      let conflicts = 0;
      let grid: Promise<void> = Promise.resolve();
      const args = [kind, s.config, s.ratv, '-m', '*', '--from', String(first), '--json'];
      const { code, output } = await onTerminal(args, async () => {
        conflicts += await s.withDatabases((db) => gridWrite(db, whileAsked));
        // And while the command writes: more of both, on documents not yet touched, until it ends.
        const untouched = ids.filter((_, i) => i % 5 > 1);
        grid = s.withDatabases(async (db) => {
          while (writing && untouched.length) {
            const batch = untouched
              .splice(Math.floor(Math.random() * untouched.length), 1)
              .map((id): GridChange => ({ id, kind: Math.random() < 0.5 ? 'late' : 'subjob' }));
            conflicts += await gridWrite(db, batch);
            duringWrite.push(...batch);
          }
        });
        return 'y\r';
      });
      writing = false;
      await grid;
      const result = resultOf(output);

      const jobs = new Map(
        ((await s.withDatabases((db) => docsWithPrefix(db, 'job_'))) as JobDocument[]).map((d) => [d._id, d]),
      );
      const changes = new Map([...whileAsked, ...duringWrite].map((c) => [c.id, c.kind]));
      const key = (run: number, module: string) => `job_${run}_${module}`;
      const changed = new Set(result.changed.map((c) => key(c.run, c.module)));
      const left = new Set(result.left.map((l) => key(l.run, l.module)));
      const lost: string[] = [];
      const wrong: string[] = [];
      for (const [id, doc] of jobs) {
        const pass = doc.passes[0]!;
        const grid = changes.get(id);
        if (grid === 'late' && pass.status !== 'completed')
          lost.push(`${id}: late completion lost (${pass.status})`);
        if (pass.subjobs[0]!.status !== 'completed' && grid !== undefined)
          lost.push(`${id}: subjob 0 is ${pass.subjobs[0]!.status}`);
        if (changed.has(id) === left.has(id))
          wrong.push(`${id}: changed ${changed.has(id)}, left ${left.has(id)}`);
        if (left.has(id) && grid !== 'late')
          wrong.push(`${id}: left without a grid change that stops it matching`);
        if (changed.has(id) && grid !== 'late' && pass.status !== target[kind])
          wrong.push(`${id}: changed but ${pass.status}`);
        if (changed.has(id) && grid !== 'late') {
          const rest = pass.subjobs.slice(grid === 'subjob' ? 1 : 0);
          if (rest.some((j) => j.status !== target[kind]))
            wrong.push(`${id}: subjobs ${pass.subjobs.map((j) => j.status).join(',')}`);
        }
        const history =
          kind === 'retry'
            ? ((pass.retries as unknown[] | undefined)?.length ?? 0)
            : pass.canceled_at
              ? 1
              : 0;
        if (history !== (changed.has(id) ? 1 : 0))
          wrong.push(`${id}: history ${history}, changed ${changed.has(id)}`);
      }
      console.log(
        `      figures: ${jobs.size} job documents; grid client: ${whileAsked.length} changes while asked, ` +
          `${duringWrite.length} while writing, ${conflicts} conflicts redone; ${kind}: ${result.changed.length} changed, ` +
          `${result.left.length} left; lost grid changes ${lost.length}`,
      );
      expect(lost, 'grid changes overwritten').to.deep.equal([]);
      expect(wrong).to.deep.equal([]);
      expect(code, output.slice(-3000)).to.equal(1);
      const lateWhileAsked = whileAsked.filter((c) => c.kind === 'late').map((c) => c.id);
      for (const id of lateWhileAsked)
        expect(left.has(id), `${id} finished while asked: left`).to.equal(true);
      expect(
        result.left.every(
          (l) => l.status === 'completed' && /changed meanwhile: status is completed/.test(l.reason),
        ),
      ).to.equal(true);
      expect(result.dry_run).to.equal(false);
    });
  });
}
