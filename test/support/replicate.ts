/**
 * Writing revisions as CouchDB replication writes them (`new_edits: false`): how tests make the
 * conflicted documents a cluster leaves when two nodes accept writes from one revision.
 */
import { readFile } from 'node:fs/promises';

import { expect } from 'chai';

import type { StoredDocument } from '../../src/backends/types.js';
import type { Pass } from '../../src/engine/types.js';
import { splitCredentials } from './apache-couch.js';
import type { Scenario } from './scenario.js';

/** Writes documents as replication does: given revisions, kept as leaves beside whatever is there. */
export async function replicate(s: Scenario, docs: readonly StoredDocument[]): Promise<void> {
  const config = JSON.parse(await readFile(s.config, 'utf8')) as {
    processing: { url: string; database: string };
  };
  const { origin, headers } = splitCredentials(config.processing.url);
  const response = await fetch(`${origin}/${config.processing.database}/_bulk_docs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ docs, new_edits: false }),
  });
  expect(response.status, await response.text()).to.be.oneOf([201, 202]);
}

export const leaf = (id: string, rev: string, parent: string | undefined, body: Record<string, unknown>) => {
  const [generation, hash] = rev.split('-');
  return {
    _id: id,
    _rev: rev,
    _revisions: { start: Number(generation), ids: parent ? [hash, parent.split('-')[1]] : [hash] },
    ...body,
  };
};

/** A pass of the test RAT version as oproc writes it, with `fields` over the defaults. */
export function craftedPass(fields: Partial<Pass> & Pick<Pass, 'pass' | 'submission' | 'status'>): Pass {
  return {
    ratv: '9.9.0',
    filetype: 'L2',
    ratdb_tag: null,
    level: 'sub_run',
    path: 'mac/processing/processing.mac',
    outputs: ['ratds'],
    prerequisites: [],
    subjobs: [{ subrun: 0, status: fields.status }],
    mode: 'range',
    created: '2026-11-24T10:00:00.000Z',
    created_by: 'shifter@host',
    ...fields,
  };
}
