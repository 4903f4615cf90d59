// A deterministic toy text embedder shared by the test peers and the end-to-end tests.
//
// Hashed bag of words: the text is lower-cased, split into runs of [a-z0-9], each run is hashed
// with 32-bit FNV-1a over its bytes, counted in bucket (hash % kDims), and the counts are
// L2-normalised. tests/e2e/embed.py implements the same function; both must produce the same
// vector for the same text (tests/e2e/test_http_peers.py checks kb.json against embed.py).
// A text without words embeds to the zero vector. Not a language model: only shared words count.

export const kDims = 32;

export function fnv1a32(word) {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(word)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash;
}

export function words(text) {
  return String(text).toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

export function embed(text) {
  const counts = new Array(kDims).fill(0);
  for (const word of words(text)) {
    counts[fnv1a32(word) % kDims] += 1;
  }
  let sumOfSquares = 0;
  for (const c of counts) {
    sumOfSquares += c * c;
  }
  if (sumOfSquares === 0) {
    return counts;
  }
  const norm = Math.sqrt(sumOfSquares);
  return counts.map((c) => c / norm);
}
