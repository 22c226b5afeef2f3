// The self-test run at load: known answers made by PyNaCl (tests/js/test_interop.py
// re-checks them with whistle.crypto), then a full envelope round trip. If any
// of it fails, this browser's crypto cannot be trusted and the page must not
// encrypt with it.

import { equalBytes, fromHex, toHex, utf8 } from './bytes.js';
import { deriveSourceKeys } from './derive.js';
import { EnvelopeWriter, boxedTo, associatedData, openEnvelope, sealedTo } from './envelope.js';
import { SelfTestError } from './errors.js';
import { PartKind } from './framing.js';

/**
 * Known answers. code/installSalt/loginToken/replyPublicKey are the first vector of
 * tests/vectors/derivation.json; box is crypto_box(message, nonce, public(secretKey),
 * senderSecretKey); sealed is crypto_box_seal(message, public(secretKey));
 * streamChunk is one secretstream FINAL chunk of message with additional data "ad".
 * The message is "whistle self-test".
 */
export const VECTOR = Object.freeze({
  code: 'DX6EAA29DX2QZ3JWW75KR',
  installSalt: 'ccc47f59427fe763fa56e31ae2c283376a7670fe40b61e45b72977fd217155d1',
  loginToken: '396b6d02b848f364499a5292f3cf9b75a7f0203f68c01dffe9b627d257ce1a1d',
  replyPublicKey: '192cb08f9ce0d2d8279ea1b3738afa2648e6850ee3829457f8b33d567fee7839',
  secretKey: '9123c573adc4bec88a1cbd5d46434657323d4b369d1530cb1a9905b1284881d2',
  senderSecretKey: '0832326883753f09e93226a33febde8c4872eb18cf3f7c85db746e1a335d2298',
  nonce: 'f33d7a4b0b73e8d44224808866986e17be730eb49a015c06',
  box: 'bc62e0d7072fbfb450ae10af27cbb8186928e8073d76c8ec5aa66451774c007aa9',
  sealed: 'c93862003228e7b82dc4bbae1840e3a274518ab81171ee860e7327dbd7b6bb2a95172281cfaaf2406287521ba1e1fd86c81af7c8ec6be1e04b1d98149ad43df5ff',
  streamKey: '390b7735178ea42e0a8561223986db158f413c763c238eb7d5f6ead63c2d50c6',
  streamHeader: '0b4dc53f494be0c3bbf1020bef8c3249f990bb1623535baf',
  streamChunk: '97dd18f165143d890ab96691a29ab661234701466096c64942229d4a83a38099cb22',
});

const MESSAGE = 'whistle self-test';

function check(condition, what) {
  if (!condition) throw new SelfTestError(`self-test failed: ${what}`);
}

/** Resolves when every check passes; rejects with SelfTestError otherwise. */
export async function selfTest(sodium) {
  const v = VECTOR;
  const message = utf8(MESSAGE);
  const keys = deriveSourceKeys(sodium, v.code, fromHex(v.installSalt));
  check(toHex(keys.loginToken) === v.loginToken, 'login token derivation');
  check(toHex(keys.replyPublicKey) === v.replyPublicKey, 'reply key derivation');

  const secret = fromHex(v.secretKey);
  const publicKey = sodium.crypto_scalarmult_base(secret);
  const senderPublic = sodium.crypto_scalarmult_base(fromHex(v.senderSecretKey));
  const box = sodium.crypto_box_easy(message, fromHex(v.nonce), publicKey, fromHex(v.senderSecretKey));
  check(toHex(box) === v.box, 'crypto_box');
  const unboxed = sodium.crypto_box_open_easy(box, fromHex(v.nonce), senderPublic, secret);
  check(equalBytes(unboxed, message), 'crypto_box_open');
  const unsealed = sodium.crypto_box_seal_open(fromHex(v.sealed), publicKey, secret);
  check(equalBytes(unsealed, message), 'crypto_box_seal_open');

  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(fromHex(v.streamHeader), fromHex(v.streamKey));
  const pulled = sodium.crypto_secretstream_xchacha20poly1305_pull(state, fromHex(v.streamChunk), utf8('ad'));
  check(pulled && equalBytes(pulled.message, message), 'secretstream pull');
  check(pulled.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL, 'secretstream final tag');

  // A whole envelope, written and opened here: boxed and sealed slots, two chunks.
  const pieces = [];
  const caseId = new Uint8Array(16);
  const ad = associatedData('followup', caseId);
  const writer = new EnvelopeWriter(sodium, (b) => pieces.push(b), [boxedTo(publicKey), sealedTo(senderPublic)], ad, {
    senderSecretKey: fromHex(v.senderSecretKey),
  });
  const big = new Uint8Array(70000);
  for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
  writer.addText('message', MESSAGE);
  writer.addBytes('file', big, PartKind.FILE);
  writer.finish();
  let length = 0;
  for (const piece of pieces) length += piece.length;
  const envelope = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    envelope.set(piece, offset);
    offset += piece.length;
  }
  const opened = await openEnvelope(sodium, envelope, secret, ad);
  check(equalBytes(opened.senderPublicKey, senderPublic), 'envelope sender');
  check(opened.parts.length === 2 && equalBytes(opened.parts[0].content, message), 'envelope message');
  check(equalBytes(opened.parts[1].content, big), 'envelope file');
  envelope[envelope.length - 1] ^= 1;
  let refused = false;
  try {
    await openEnvelope(sodium, envelope, secret, ad);
  } catch (error) {
    refused = error.name === 'TamperedError';
  }
  check(refused, 'a tampered envelope is refused');
}
