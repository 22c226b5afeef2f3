// Attachment names and counts, the browser's copy of whistle/filenames.py (same rule, same
// vectors: tests/vectors/filenames.json). The server cannot see names or count files inside a
// sealed envelope, so the page applies the plain route's rule itself before encrypting; the
// inbox applies it again to whatever arrives.

export const MAX_FILE_NAME_CHARS = 200;
export const MAX_FILES = 20;
const FALLBACK = 'file';
// C0, DEL, C1; bidirectional marks, embeddings, overrides and isolates; line and paragraph
// separators; the byte-order mark.
const UNWANTED = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/g;

/** The last path component, NFC, without unwanted characters, bounded, never empty. */
export function cleanFileName(raw) {
  const parts = String(raw).split(/[\\/]/);
  let name = parts[parts.length - 1].normalize('NFC').replace(UNWANTED, '').trim();
  // Lengths in code points, as Python counts them.
  const chars = Array.from(name);
  if (chars.length > MAX_FILE_NAME_CHARS) {
    const dot = name.lastIndexOf('.');
    const suffix = dot >= 0 ? Array.from(name.slice(dot + 1)) : [];
    const keep = dot >= 0 && suffix.length <= 16 ? '.' + suffix.join('') : '';
    name = chars.slice(0, MAX_FILE_NAME_CHARS - Array.from(keep).length).join('').trimEnd() + keep;
  }
  if (!name.replace(/\./g, '')) return FALLBACK;
  return name;
}
