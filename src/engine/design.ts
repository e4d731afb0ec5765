import type { DesignDocument } from '../backends/types.js';

/**
 * The views oproc reads through. Data-flow and processing may be one database, so the two design
 * documents have distinct names. Map functions skip documents with missing or wrong-typed fields.
 */
export const dataflowDesign: DesignDocument = {
  name: 'oproc_dataflow',
  views: {
    // Keys are [run, _id]: unique, so a page can restart after its last key with skip=1.
    by_run: {
      map: `function (doc) {
  if ((doc.type === 'file' || doc.type === 'run_end') && typeof doc.run === 'number' && doc.run % 1 === 0) {
    emit([doc.run, doc._id], { type: doc.type, filetype: doc.filetype, subrun: doc.subrun, subruns: doc.subruns });
  }
}`,
    },
    // Keys are [filetype, run, _id]; values [subrun] for a file, null for a run_end. A run_end, and a
    // file whose filetype is neither (value {filetype}, to be warned of), are listed under both
    // filetypes, so one range read of a filetype says all a reprocess of it needs.
    by_filetype: {
      map: `function (doc) {
  if (typeof doc.run !== 'number' || doc.run % 1 !== 0) return;
  var both = ['L1', 'L2'];
  if (doc.type === 'file' && (doc.filetype === 'L1' || doc.filetype === 'L2')) {
    emit([doc.filetype, doc.run, doc._id], [doc.subrun === undefined ? null : doc.subrun]);
  } else if (doc.type === 'file') {
    for (var i = 0; i < both.length; i++) emit([both[i], doc.run, doc._id], { filetype: doc.filetype === undefined ? null : doc.filetype });
  } else if (doc.type === 'run_end') {
    for (var j = 0; j < both.length; j++) emit([both[j], doc.run, doc._id], null);
  }
}`,
    },
  },
};

export const processingDesign: DesignDocument = {
  name: 'oproc',
  views: {
    jobs_by_run: {
      map: `function (doc) {
  if (doc.type === 'job' && typeof doc.run === 'number' && typeof doc.module === 'string') {
    emit([doc.run, doc.module], null);
  }
}`,
    },
    // One row per pass, keys [ratv, status, run, module, pass]: unique. retry and cancel read the job
    // documents with passes of a RAT version in given statuses by it, at a cost by those passes
    // rather than by every job document.
    pass_ids_by_status: {
      map: `function (doc) {
  if (doc.type !== 'job' || typeof doc.run !== 'number' || typeof doc.module !== 'string' || !Array.isArray(doc.passes)) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var p = doc.passes[i];
    if (p && typeof p.ratv === 'string' && typeof p.status === 'string' && typeof p.pass === 'number') {
      emit([p.ratv, p.status, doc.run, doc.module, p.pass], null);
    }
  }
}`,
    },
    // Pass counts for oproc status: [ratv, 'all', module, status] per pass, and [ratv, 'newest',
    // module, status] for each job's newest pass of each RAT version. Read reduced, with group=true.
    passes_by_status: {
      map: `function (doc) {
  if (doc.type !== 'job' || typeof doc.module !== 'string' || !Array.isArray(doc.passes)) return;
  var newest = {};
  for (var i = 0; i < doc.passes.length; i++) {
    var p = doc.passes[i];
    if (!p || typeof p.ratv !== 'string' || typeof p.pass !== 'number') continue;
    emit([p.ratv, 'all', doc.module, String(p.status)], null);
    if (!newest[p.ratv] || newest[p.ratv].pass < p.pass) newest[p.ratv] = p;
  }
  var ratvs = Object.keys(newest);
  for (var j = 0; j < ratvs.length; j++) emit([ratvs[j], 'newest', doc.module, String(newest[ratvs[j]].status)], null);
}`,
      reduce: '_count',
    },
    // Passes created per day: [ratv, 'YYYY-MM-DD', run]. oproc status reads each day with
    // group_level=3: a row is a run given passes that day, and its value how many.
    passes_by_day: {
      map: `function (doc) {
  if (doc.type !== 'job' || typeof doc.run !== 'number' || !Array.isArray(doc.passes)) return;
  for (var i = 0; i < doc.passes.length; i++) {
    var p = doc.passes[i];
    if (p && typeof p.ratv === 'string' && typeof p.created === 'string') emit([p.ratv, p.created.slice(0, 10), doc.run], null);
  }
}`,
      reduce: '_count',
    },
    // oproc's documents with conflicting leaf revisions (a CouchDB cluster), keys [type, _id], values
    // how many losing leaves. A running watcher sweeps them every cycle (reduce=false); oproc status
    // and the page count them (reduced).
    conflicts: {
      map: `function (doc) {
  if (!doc._conflicts || !doc._conflicts.length) return;
  if (!/^(job|submission|watch|lease|calibration_lock)_/.test(doc._id)) return;
  emit([typeof doc.type === 'string' ? doc.type : null, doc._id], doc._conflicts.length);
}`,
      reduce: '_count',
    },
    // Submissions newest first without reading their run lists: [null, started] for all, and
    // [ratv, started], each with a summary.
    submissions_by_started: {
      map: `function (doc) {
  if (doc.type !== 'submission' || typeof doc.started !== 'string') return;
  var summary = { mode: doc.mode, ratv: doc.ratv, filetype: doc.filetype,
    runs: Array.isArray(doc.runs) ? doc.runs.length : 0, done: Array.isArray(doc.done) ? doc.done.length : 0,
    started: doc.started, finished: doc.finished === undefined ? null : doc.finished };
  emit([null, doc.started], summary);
  if (typeof doc.ratv === 'string') emit([doc.ratv, doc.started], summary);
}`,
    },
  },
};
