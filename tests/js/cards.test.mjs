// The office card as the page checks it (js/cards.js) against tests/vectors/cards.json,
// which Python wrote: same verification, same fingerprint; a swapped key is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, sodium, vectors } from './helpers.mjs';

const C = vectors('cards');

function signedOf(cardFile) {
  const document = JSON.parse(cardFile);
  return sodium.from_base64(document.signed, sodium.base64_variants.ORIGINAL);
}

for (const v of C.valid.filter((x) => x.kind === 'office')) {
  test(`an office card verifies and has Python's fingerprint: ${v.fingerprint}`, () => {
    const card = api.verifyOfficeCard(signedOf(v.card));
    assert.equal(card.fingerprint, v.fingerprint);
    assert.ok(card.deskKeys.length >= 1);
  });

  test(`a card whose desk key was swapped does not verify: ${v.fingerprint}`, () => {
    const signed = signedOf(v.card);
    const text = new TextDecoder().decode(signed);
    const at = text.indexOf('"public_key":"') + '"public_key":"'.length;
    signed[at] = signed[at] === 0x61 ? 0x62 : 0x61; // one hex digit of the first desk key
    assert.throws(() => api.verifyOfficeCard(signed), api.errors.BadSignatureError);
  });
}

test('a server card is not an office card', () => {
  const server = C.valid.find((x) => x.kind === 'server');
  assert.throws(() => api.verifyOfficeCard(signedOf(server.card)), api.errors.BadSignatureError);
});
