// An oproc module plugin: the `oproc:modules` hook (DESIGN.md 6). Plain JavaScript, so it needs no build.
// The JSDoc types are oproc's published ones; they are only read by editors and `tsc --checkJs`.

/** @typedef {import('oproc').ModulesContribution} ModulesContribution */
/** @typedef {import('oproc').ProcessingInformation} ProcessingInformation */
/** @typedef {import('oproc').Selector} Selector */

/**
 * Processing information for RAT 7.0.8. A site's own information (the experiment's file, imported
 * and named in the config) defines Processing, DataQuality and Analysis for 7.0.8; this adds one
 * new module and the run type that runs it. Redefining an existing module differently would be an
 * error naming both sources.
 * A function, so each call returns a fresh object that oproc may merge into.
 * @returns {ProcessingInformation}
 */
function rat708() {
  return {
    ratv: '7.0.8',
    processing_modules: {
      AntinuFit: {
        type: 'macro',
        level: 'run_root',
        path: 'mac/analysis/antinu/antinufit.mac',
        outputs: ['ntuple'],
        prerequisites: ['Processing'],
        raw_processor: false,
        ratdb_tables: ['RUN', 'REACTOR_STATUS'],
        // Fields oproc does not interpret are copied into every pass for the grid job.
        ganga_outputs: ['*.antinufit.ntuple.root'],
        nhit_cut: 10,
      },
    },
    modules_for_run_type: {
      Physics: ['AntinuFit'],
    },
  };
}

/**
 * Source runs get only the raw processors (Processing): fits and analyses of a deployed source
 * are done by hand. Every other run gets the union of modules_for_run_type over its run type
 * names, as the default `run-type` selector does.
 * @type {Selector}
 */
function bySource(run, info) {
  const modules = Object.keys(info.processing_modules);
  if (run.run_type_names.includes('DeployedSource')) {
    return modules.filter((name) => info.processing_modules[name]?.raw_processor === true);
  }
  const wanted = new Set(run.run_type_names.flatMap((name) => info.modules_for_run_type[name] ?? []));
  return modules.filter((name) => wanted.has(name));
}

/** @returns {Promise<ModulesContribution>} */
export default async function modules() {
  return {
    processing_information: [rat708()],
    selectors: { 'by-source': bySource },
  };
}
