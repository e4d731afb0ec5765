/** `1 pass`, `2 passes`, `0 runs`: a count with its noun, singular for exactly one. */
export function plural(n: number, singular: string, pluralForm = regularPlural(singular)): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}

function regularPlural(noun: string): string {
  return /(s|x|z|ch|sh)$/.test(noun) ? `${noun}es` : `${noun}s`;
}
