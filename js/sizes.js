// File sizes as the pages without JavaScript show them (whistle/submit/web.py human_size; same
// vectors: tests/vectors/sizes.json), so the conversation looks alike with JavaScript on or off.
const UNITS = [
  ['GB', 1024 ** 3],
  ['MB', 1024 ** 2],
  ['KB', 1024],
];

/** "41 B", "2 KB", "10 MB": whole units of 1024, a half rounded to even as Python's format does. */
export function humanSize(size) {
  for (const [unit, factor] of UNITS) {
    if (size >= factor) return `${roundHalfEven(size / factor)} ${unit}`;
  }
  return `${size} B`;
}

function roundHalfEven(value) {
  const floor = Math.floor(value);
  if (value - floor !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}
