import type { DetectorType } from './detectors/types';

const PATTERN_WORDS: [string, DetectorType][] = [
  ['general', 'general'],
  ['peak', 'peak'],
  ['trough', 'trough'],
  ['jump', 'jump'],
  ['drop', 'drop'],
  ['anomal', 'anomaly'],
];

/**
 * Maps the old panel's `pattern` ("General approach", "Peaks", "Troughs", "Jumps", "Drops") to a
 * detector: case-insensitive substring match. Returns undefined for text that names none.
 */
export function detectorFromPattern(pattern: string): DetectorType | undefined {
  const text = pattern.toLowerCase();
  return PATTERN_WORDS.find(([word]) => text.includes(word))?.[1];
}

/** The original server's fallback when no pattern was sent: substrings of the unit's name. */
export function detectorFromName(name: string): DetectorType | undefined {
  const text = name.toLowerCase();
  if (text.includes('jumps')) return 'jump';
  if (text.includes('drops') || text.includes('cliffs')) return 'drop';
  if (text.includes('peaks')) return 'peak';
  return undefined;
}

/**
 * The detector a learning uses. Until something is labeled every unit watches with the unsupervised
 * `anomaly` detector (a shape detector has nothing to learn from yet); after that the explicit choice
 * wins, and `general` otherwise.
 */
export function effectiveDetector(chosen: DetectorType | null, hasLabels: boolean): DetectorType {
  if (!hasLabels) return 'anomaly';
  return chosen ?? 'general';
}
