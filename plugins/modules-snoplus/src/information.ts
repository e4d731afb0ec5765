import type { ModuleDefinition, ProcessingInformation } from 'oproc';

/** Raw-data processing: one job per subrun file, the only module that reads zdab files. */
const processing: ModuleDefinition = {
  type: 'macro',
  level: 'sub_run',
  path: 'mac/processing/processing.mac',
  outputs: ['ratds', 'ntuple'],
  prerequisites: [],
  raw_processor: true,
  ratdb_tables: ['RUN', 'DAQ_RUN_LEVEL', 'PMT_DQXX', 'PMTCALIB'],
  ganga_outputs: ['*.zdab.root', '*.ntuple.root'],
};

/** Data-quality checks over the whole run's ratds files. */
const dataQuality: ModuleDefinition = {
  type: 'macro',
  level: 'run_root',
  path: 'mac/processing/dataquality.mac',
  outputs: ['dq'],
  prerequisites: ['Processing'],
  raw_processor: false,
  ratdb_tables: ['RUN', 'DQHL'],
  ganga_outputs: ['*.dq.root'],
  other_suffix: '_dq',
};

const analysis: ModuleDefinition = {
  type: 'macro',
  level: 'run_root',
  path: 'mac/processing/analysis.mac',
  outputs: ['ntuple'],
  prerequisites: ['Processing'],
  raw_processor: false,
  ratdb_tables: [],
  ganga_outputs: ['*.analysis.ntuple.root'],
  nhit_cut: 20,
};

/** Scintillator-phase reconstruction, from RAT 7.0.15 on. */
const scintFit: ModuleDefinition = {
  type: 'macro',
  level: 'run_root',
  path: 'mac/processing/scintillator/scintfit.mac',
  outputs: ['ratds', 'ntuple'],
  prerequisites: ['Processing'],
  raw_processor: false,
  ratdb_tables: ['EFFECTIVE_VELOCITY', 'OPTICS[labppo_2p2_scintillator]'],
  ganga_outputs: ['*.scintfit.root', '*.scintfit.ntuple.root'],
  nhit_cut: 5,
};

const calibrationRunTypes = ['ExternalSource', 'PCA', 'ECA', 'ECAPDST', 'ECATSLP'];
const lightInjectionRunTypes = ['TELLIE', 'SMELLIE', 'AMELLIE'];

function runTypeTable(physics: string[]): Record<string, string[]> {
  return {
    Physics: physics,
    DeployedSource: physics,
    Supernova: ['Processing', 'Analysis'],
    ...Object.fromEntries(lightInjectionRunTypes.map((name) => [name, ['Processing', 'DataQuality']])),
    ...Object.fromEntries(calibrationRunTypes.map((name) => [name, ['Processing']])),
  };
}

export const processingInformation: ProcessingInformation[] = [
  {
    ratv: '7.0.8',
    processing_modules: { Processing: processing, DataQuality: dataQuality, Analysis: analysis },
    modules_for_run_type: runTypeTable(['Processing', 'DataQuality', 'Analysis']),
  },
  {
    ratv: '7.0.15',
    processing_modules: {
      Processing: { ...processing, ratdb_tables: [...processing.ratdb_tables, 'NOISE_RUN_LEVEL'] },
      DataQuality: dataQuality,
      Analysis: analysis,
      ScintFit: scintFit,
    },
    modules_for_run_type: runTypeTable(['Processing', 'DataQuality', 'ScintFit', 'Analysis']),
  },
];
