import { random, urlAlphabet } from "nanoid";

const ID_LENGTH = 21;
const codes = new Array<number>(ID_LENGTH);

/**
 * A nanoid (21 URL-safe characters from nanoid's pooled secure random bytes) built as one flat
 * string. `nanoid()` appends character by character, which leaves V8 a chain of 21 cons strings
 * per id: ~360 bytes per stored id against ~75 for a flat one, and ids are kept for every
 * document ever seen.
 *
 * @example generateId() // "V1StGXR8_Z5jdHi6B-myT"
 */
export function generateId(): string {
  const bytes = random(ID_LENGTH);
  for (let i = 0; i < ID_LENGTH; i++) codes[i] = urlAlphabet.charCodeAt(bytes[i]! & 63);
  return String.fromCharCode.apply(null, codes);
}
