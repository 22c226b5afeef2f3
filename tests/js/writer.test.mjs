// What the JS writes: structure, chunking, padding, streaming from Blobs.
import assert from 'node:assert/strict';
// Not a global before node 20; Debian 12 ships node 18.
import { File } from 'node:buffer';
import { test } from 'node:test';
import { api, sodium, vectors } from './helpers.mjs';

const E = vectors('envelopes');
const key = (name) => api.fromHex(E.keys[name]);
const caseId = api.fromHex(E.case_id);
const source = api.deriveSourceKeys(E.keys.source_code, api.fromHex(E.keys.install_salt));
const unsignedCase = { signedCase: false };

async function bytesOf(blob) {
  return new Uint8Array(await blob.arrayBuffer());
}

function pattern(size, seed) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

test('a submission: two sealed slots, reply key first, fixed identification, files streamed', async () => {
  const big = pattern(3 * 1024 * 1024 + 7, 1);
  const files = [new File([big], 'big.bin'), new File(['short'], 'nota.txt'), new File([], 'empty')];
  const progress = [];
  const blob = await api.writeSubmission({
    deskKey: key('desk_public_key'),
    custodianKey: key('custodian_public_key'),
    replyPublicKey: key('reply_public_key'),
    sourceSigningKey: source.signingPublicKey,
    caseId,
    form: { language: 'ca', desk: 'antifrau', fields: [{ key: 'subject', label: 'Assumpte', value: 'Contracte' }] },
    identification: [],
    files,
    onProgress: (done, total) => progress.push([done, total]),
  });
  const data = await bytesOf(blob);
  assert.equal(new TextDecoder().decode(data.subarray(0, 5)), 'WHENV');
  assert.deepEqual([...data.subarray(5, 8)], [1, 2, 0]); // version, two slots, no sender
  assert.equal(data[8], 1);
  assert.equal(data[8 + 81], 1);
  const total = big.length + 5;
  assert.deepEqual(progress[0], [0, total]);
  assert.deepEqual(progress[progress.length - 1], [total, total]);
  // Monotonic, in steps of at most 256 KiB (a progress bar that moves).
  assert.ok(progress.every(([done], i) => i === 0 || (done >= progress[i - 1][0] && done - progress[i - 1][0] <= 256 * 1024)));
  const opened = await api.openEnvelope(data, key('desk_secret_key'), api.associatedData('submission', caseId));
  const names = ['reply_public_key', 'source_signing_key', 'form', 'identification', 'big.bin', 'nota.txt', 'empty'];
  assert.deepEqual(opened.parts.map((p) => p.name), names);
  assert.deepEqual(opened.parts[0].content, key('reply_public_key'));
  assert.deepEqual(opened.parts[1].content, source.signingPublicKey);
  assert.equal(opened.parts[3].content.length, 4096 + 48);
  const opened2 = sodium.crypto_box_seal_open(opened.parts[3].content, key('custodian_public_key'), key('custodian_secret_key'));
  assert.equal(opened2.length, 4096);
  assert.deepEqual(opened.parts[4].content, big);
  assert.equal(opened.parts[6].content.length, 0);
  // The chunk layout: the body is whole 64 KiB chunks plus a final one, padded to a Padmé size.
  const headerLength = 8 + 2 * 81 + 24;
  const body = data.length - headerLength;
  const chunks = Math.ceil(body / (65536 + 17));
  assert.ok(api.paddedSize(body - 17 * chunks) === body - 17 * chunks);
});

test('a protocol 2 follow-up: sealed to every desk, no key in clear, signed and numbered', async () => {
  const blob = await api.writeFollowup({
    message: 'Més detalls',
    files: [new File([pattern(70000, 2)], 'annex.bin')],
    replySecretKey: source.replySecretKey,
    officeKeys: [key('desk_public_key'), key('desk2_public_key')],
    caseId,
    signingSeed: source.signingSeed,
    position: { sequence: 4, seen: 2 },
  });
  const data = await bytesOf(blob);
  assert.deepEqual([...data.subarray(5, 8)], [1, 3, 0]); // three slots, no sender key
  assert.deepEqual([data[8], data[8 + 81], data[8 + 162]], [1, 1, 1]);
  const asOffice = await api.openEnvelope(data, key('desk_secret_key'), api.associatedData('followup', caseId));
  assert.equal(asOffice.senderPublicKey, null);
  assert.deepEqual(asOffice.parts.map((p) => p.name), ['message', 'annex.bin', 'conversation', 'signature']);
  const checks = { signedCase: true, officeKey: key('reply_public_key'), sourceSigningKey: source.signingPublicKey };
  const own = await api.openAsSource(data, 'followup', source.replySecretKey, caseId, checks);
  assert.deepEqual([own.message, own.signed, own.position], ['Més detalls', true, { sequence: 4, seen: 2 }]);
  assert.deepEqual(own.files[0].content, pattern(70000, 2));
  const other = api.deriveSourceKeys(api.generateCode(), api.fromHex(E.keys.install_salt));
  await assert.rejects(
    api.openAsSource(data, 'followup', source.replySecretKey, caseId, { ...checks, sourceSigningKey: other.signingPublicKey }),
    api.errors.BadSignatureError,
  );
});

test('a protocol 1 follow-up: boxed to every desk, sealed to the reply key, sender proven', async () => {
  const replySecret = key('reply_secret_key');
  const blob = await api.writeFollowup({
    message: 'Més detalls',
    files: [new Blob([pattern(70000, 2)])].map((b) => new File([b], 'annex.bin')),
    replySecretKey: replySecret,
    officeKeys: [key('desk_public_key'), key('desk2_public_key')],
    caseId,
  });
  const data = await bytesOf(blob);
  assert.deepEqual([...data.subarray(5, 8)], [1, 3, 1]);
  assert.deepEqual(data.subarray(8, 40), key('reply_public_key'));
  assert.deepEqual([data[40], data[40 + 73], data[40 + 146]], [2, 2, 1]);
  const asOffice = await api.openEnvelope(data, key('desk_secret_key'), api.associatedData('followup', caseId));
  assert.deepEqual(asOffice.senderPublicKey, key('reply_public_key'));
  const own = await api.openAsSource(data, 'followup', replySecret, caseId, unsignedCase);
  assert.equal(own.message, 'Més detalls');
  assert.deepEqual(own.files[0].content, pattern(70000, 2));
});

test('chunk boundaries: full chunks, and a FINAL chunk that is a whole 64 KiB', async () => {
  const header = 8 + 81 + 24;
  // part start (4 + 1 name byte) + data header (5) + fill + part end (1) + end (1) = fill + 12
  const cases = [
    [0, 4096],
    [1, 4096],
    [65524, 65536], // exactly one chunk: FINAL and full
    [65525, 65536 + 2048], // Padmé rounds 65,537 up to a multiple of 2 KiB
    [131060, 131072], // exactly two chunks
    [200000, api.paddedSize(200012)],
  ];
  for (const [fill, padded] of cases) {
    assert.equal(api.paddedSize(fill + 12), padded);
    const pieces = [];
    const writer = api.EnvelopeWriter((b) => pieces.push(b), [api.sealedTo(key('desk_public_key'))], api.associatedData('reply', caseId));
    writer.beginFile('x');
    const content = pattern(fill, 3);
    writer.write(content); // one data frame
    writer.endPart();
    const length = writer.finish();
    const chunks = Math.ceil(padded / 65536);
    assert.equal(length, header + padded + 17 * chunks, String(fill));
    const sizes = pieces.slice(1).map((p) => p.length);
    assert.deepEqual(sizes.slice(0, -1), Array(chunks - 1).fill(65536 + 17));
    assert.equal(sizes[sizes.length - 1], padded - 65536 * (chunks - 1) + 17);
    const data = new Uint8Array(await new Blob(pieces).arrayBuffer());
    const opened = await api.openEnvelope(data, key('desk_secret_key'), api.associatedData('reply', caseId));
    assert.deepEqual(opened.parts[0].content, content);
  }
});

test('a Blob envelope is read in pieces and opens like the bytes', async () => {
  const blob = await api.writeFollowup({
    message: 'x',
    files: [new File([pattern(200000, 4)], 'f')],
    replySecretKey: key('reply_secret_key'),
    officeKeys: [key('desk_public_key')],
    caseId,
  });
  const opened = await api.openAsSource(blob, 'followup', key('reply_secret_key'), caseId, unsignedCase);
  assert.deepEqual(opened.files[0].content, pattern(200000, 4));
});

test('every single flipped byte of a written envelope is refused', async () => {
  const pieces = [];
  const writer = api.EnvelopeWriter((b) => pieces.push(b), [api.sealedTo(key('desk_public_key'))], api.associatedData('reply', caseId));
  writer.addText('message', 'hola');
  writer.finish();
  const data = new Uint8Array(await new Blob(pieces).arrayBuffer());
  for (let i = 0; i < data.length; i += 97) {
    const bad = data.slice();
    bad[i] ^= 0x40;
    await assert.rejects(api.openEnvelope(bad, key('desk_secret_key'), api.associatedData('reply', caseId)), api.errors.DecryptionError);
  }
});

test('case ids are 16 fresh random bytes', () => {
  const a = api.generateCaseId();
  const b = api.generateCaseId();
  assert.equal(a.length, 16);
  assert.notDeepEqual(a, b);
});

test('caller mistakes are refused before anything is written', () => {
  const sink = () => {};
  const ad = api.associatedData('reply', caseId);
  assert.throws(() => api.EnvelopeWriter(sink, [], ad), RangeError);
  assert.throws(() => api.EnvelopeWriter(sink, [api.boxedTo(key('desk_public_key'))], ad), TypeError);
  const writer = api.EnvelopeWriter(sink, [api.sealedTo(key('desk_public_key'))], ad);
  assert.throws(() => writer.write(new Uint8Array(1)), Error);
  assert.throws(() => writer.addText('a\u0000b', 'x'), RangeError);
  assert.throws(() => writer.addText('x'.repeat(1025), 'x'), RangeError);
  const big = [{ key: 'name', value: 'x'.repeat(5000) }];
  assert.throws(() => api.sealIdentification(big, key('custodian_public_key'), caseId, key('reply_public_key')), RangeError);
  assert.throws(() => api.sealIdentification([], key('custodian_public_key'), new Uint8Array(15), key('reply_public_key')), RangeError);
});

test('the identification JSON is byte for byte what Python writes (tests/vectors/identification.json)', () => {
  const I = vectors('identification');
  const raw = api.identificationPlaintext(I.version_2.fields, api.fromHex(I.case_id), api.fromHex(I.reply_public_key));
  assert.equal(new TextDecoder().decode(raw), I.version_2.plaintext);
});
