/**
 * A small English singularizer for route nouns (`orders` → `order`). Route segments are mostly
 * regular plurals, so a few suffix rules cover them; a dependency would be larger than the
 * problem. Words that only look plural (`status`, `address`, `analysis`) stay as they are.
 *
 * Only the singular is needed: a noun that is not identified keeps the spelling of the path
 * (see names.ts), so nothing here pluralizes.
 */

// Whole words the suffix rules get wrong, compared in lowercase.
const IRREGULAR: Readonly<Record<string, string>> = {
  people: 'person',
  children: 'child',
  caches: 'cache',
  niches: 'niche',
  movies: 'movie',
  cookies: 'cookie',
  series: 'series',
  species: 'species',
  news: 'news',
};

/**
 * The singular of one word, keeping its case (`Categories` → `Category`, `APIKeys` → `APIKey`).
 * Unknown shapes come back unchanged rather than mangled.
 */
export function singularize(word: string): string {
  const lower = word.toLowerCase();
  const irregular = IRREGULAR[lower];
  if (irregular !== undefined) return word.slice(0, 1) + irregular.slice(1);
  // `ss`, `us`, `is` endings are singular already: address, status, analysis.
  if (/(?:ss|us|is)$/.test(lower) || !lower.endsWith('s')) return word;
  if (lower.length > 4 && lower.endsWith('ies')) return `${word.slice(0, -3)}y`;
  // addresses, boxes, matches, wishes, statuses (but houses, causes: only the s goes).
  if (/(?:sses|xes|ches|shes|zzes|[^aeiou]uses)$/.test(lower)) return word.slice(0, -2);
  return word.slice(0, -1);
}
