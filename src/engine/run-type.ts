/** Run type word bits, with the mnemonics of the experiment's DAQ and RAT (DESIGN.md 1.2). */
export const runTypeBits: Readonly<Record<number, string>> = {
  0: 'Maintenance',
  1: 'Transition',
  2: 'Physics',
  3: 'DeployedSource',
  4: 'ExternalSource',
  5: 'ECA',
  6: 'Diagnostic',
  7: 'Experimental',
  8: 'Supernova',
  11: 'TELLIE',
  12: 'SMELLIE',
  13: 'AMELLIE',
  14: 'PCA',
  15: 'ECAPDST',
  16: 'ECATSLP',
  18: 'EmbeddedPeds',
  21: 'DCRActivity',
  22: 'CompCoilsOFF',
  23: 'PMTsOFF',
  24: 'BubblersON',
  25: 'CavityRecirculationON',
  26: 'SLAssay',
  27: 'UnusualActivity',
  28: 'AVRecirculationON',
  29: 'ScintFill',
};

const bitByName = new Map(Object.entries(runTypeBits).map(([bit, name]) => [name, Number(bit)]));

/** The names of a run type word's set bits, lowest bit first; spare bits are named `bit9` etc. */
export function runTypeNames(word: number): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if (Math.floor(word / 2 ** bit) % 2 === 1) names.push(runTypeBits[bit] ?? `bit${bit}`);
  }
  return names;
}

/** The run type word with the named bits set (for tests, demos and data files). */
export function runTypeWord(...names: string[]): number {
  let word = 0;
  for (const name of names) {
    const bit = bitByName.get(name);
    if (bit === undefined) throw new Error(`unknown run type bit ${name}`);
    word += 2 ** bit;
  }
  return word;
}

export function isRunTypeName(name: string): boolean {
  return bitByName.has(name);
}
