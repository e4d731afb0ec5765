/**
 * Job documents in known states, for the tests of `retry` and `cancel`: passes made by real
 * reprocess commands, then their statuses set as a grid client would leave them.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { expect } from 'chai';

import type { SubmissionResult } from '../../src/engine/reprocess.js';
import type { JobDocument } from '../../src/engine/types.js';
import { json, runCli } from './cli.js';
import {
  physicsRuns,
  scenario,
  testProcessingInformation,
  type BackendKind,
  type Scenario,
} from './scenario.js';

/** `RUN MODULE PASS` of a pass. */
export type PassKey = `${number} ${string} ${number}`;

/** A pass's status and, optionally, its subjobs' statuses (else all the pass's status). */
export type PassState = string | { status: string; subjobs: string[] };

/**
 * Runs 300000–300005 with Processing (3 subjobs) and Analysis pass 0 of the test RAT version, a
 * Processing pass 1 of run 300002, and a Processing pass 1 of RAT 7.0.8 for run 300005.
 */
export async function passScenario(kind: BackendKind): Promise<Scenario> {
  // A second RAT version beside the scenario's: the same modules, as 7.0.8.
  const s = await scenario(kind, { processing_information: ['info.json', 'rat-7.0.8.json'] });
  await writeFile(
    path.join(s.dir, 'rat-7.0.8.json'),
    JSON.stringify({ ...testProcessingInformation, ratv: '7.0.8' }),
  );
  await s.addRuns(physicsRuns(300000, 300007));
  const reprocess = async (...rest: string[]) => {
    const result = await runCli(['reprocess', ...rest, '--json']);
    expect(result.code, result.stderr).to.equal(0);
    return json<SubmissionResult>(result);
  };
  await reprocess('range', s.config, s.ratv, 'L2', '300000', '300005');
  await reprocess('one-shot', s.config, s.ratv, 'L2', '300002', '-N', 'Processing');
  await reprocess('one-shot', s.config, '7.0.8', 'L2', '300005', '-N', 'Processing');
  return s;
}

/** Every job document of the scenario. */
export async function allJobs(s: Scenario): Promise<JobDocument[]> {
  const docs = await s.jobs([300000, 300001, 300002, 300003, 300004, 300005], ['Processing', 'Analysis']);
  return [...docs.values()];
}

/**
 * Sets every pass to `completed` (subjobs too), except those `states` names; drops the history
 * fields a retry or cancel wrote. What a test starts from.
 */
export async function setStates(s: Scenario, states: Record<PassKey, PassState>): Promise<void> {
  const jobs = await allJobs(s);
  const edited = jobs.map((doc) => ({
    ...doc,
    passes: doc.passes.map((pass) => {
      const { retries: _r, canceled_at: _a, canceled_by: _b, ...rest } = pass;
      const state = states[`${doc.run} ${doc.module} ${pass.pass}` as PassKey] ?? 'completed';
      const status = typeof state === 'string' ? state : state.status;
      const subjobs = pass.subjobs.map((sub, i) => ({
        ...sub,
        status: typeof state === 'string' ? state : (state.subjobs[i] ?? status),
      }));
      return { ...rest, status, subjobs };
    }),
  }));
  await s.withDatabases(async (db) => {
    const results = await db.processing.bulkWrite(edited);
    expect(results.every((r) => r.ok)).to.equal(true);
  });
}

/** Every pass not `completed`, as `RUN MODULE PASS status [subjob statuses]`. */
export async function notCompleted(s: Scenario): Promise<string[]> {
  const lines: string[] = [];
  for (const doc of await allJobs(s))
    for (const pass of doc.passes)
      if (pass.status !== 'completed' || pass.subjobs.some((sub) => sub.status !== 'completed'))
        lines.push(
          `${doc.run} ${doc.module} ${pass.pass} ${pass.status} [${pass.subjobs.map((j) => j.status).join(',')}]`,
        );
  return lines.sort();
}
