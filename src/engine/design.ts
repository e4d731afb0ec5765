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
  },
};
