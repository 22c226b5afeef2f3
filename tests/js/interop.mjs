// Driven by tests/js/test_interop.py: the JS side of the interoperability tests.
//
//   node [--jitless] tests/js/interop.mjs write REQUEST.json   writes a submission and a follow-up
//   node [--jitless] tests/js/interop.mjs open REQUEST.json    opens records Python sealed
//   node [--jitless] tests/js/interop.mjs copies REQUEST.json  opens source copies Python sealed
//   node [--jitless] tests/js/interop.mjs case-followup REQUEST.json
//                       checks a case key announcement Python signed, as the page does, and
//                       writes a follow-up sealed to that key alone
//
// It prints one JSON object on stdout.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tolerateWasmFallback } from '../../js/node-support.mjs';
import { load } from '../../js/whistle-crypto.js';

tolerateWasmFallback();

/** The same deterministic file content as test_interop.py's `pattern`. */
function pattern(size, seed) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

async function write(api, request) {
  const h = api.fromHex;
  const keys = api.deriveSourceKeys(request.code, h(request.install_salt));
  const caseId = h(request.case_id);
  const files = request.files.map((f) => new File([pattern(f.size, f.seed)], f.name));
  const progress = [];
  // Built as the page builds it: the key order is formDocument's, not the request's.
  const form = api.formDocument(request.form.language, request.form.desk, request.form.fields, request.form);
  const submission = await api.writeSubmission({
    deskKey: h(request.desk_public_key),
    custodianKey: h(request.custodian_public_key),
    replyPublicKey: keys.replyPublicKey,
    sourceSigningKey: keys.signingPublicKey,
    caseId,
    form,
    identification: request.identification,
    files,
    onProgress: (done, total) => progress.push([done, total]),
  });
  const followup = await api.writeFollowup({
    message: request.message,
    files,
    replySecretKey: keys.replySecretKey,
    officeKeys: request.desk_keys.map(h),
    caseId,
    signingSeed: keys.signingSeed,
    position: { sequence: 1, seen: 2 },
  });
  writeFileSync(join(request.out_dir, 'submission.bin'), new Uint8Array(await submission.arrayBuffer()));
  writeFileSync(join(request.out_dir, 'followup.bin'), new Uint8Array(await followup.arrayBuffer()));
  // The source's copies, as the page seals them beside each record.
  const copies = {
    'copy-submission.bin': api.copyDocument('submission', { form, files }),
    'copy-followup.bin': api.copyDocument('followup', { message: request.message, files }),
  };
  for (const [name, document] of Object.entries(copies)) {
    writeFileSync(join(request.out_dir, name), api.sealCopy(document, keys.copyPublicKey, caseId));
  }
  return {
    mode: api.mode,
    login_token: api.toHex(keys.loginToken),
    reply_public_key: api.toHex(keys.replyPublicKey),
    signing_public_key: api.toHex(keys.signingPublicKey),
    copy_public_key: api.toHex(keys.copyPublicKey),
    progress_first: progress[0],
    progress_last: progress[progress.length - 1],
  };
}

async function open(api, request) {
  const keys = api.deriveSourceKeys(request.code, api.fromHex(request.install_salt));
  const caseId = api.fromHex(request.case_id);
  const checks = { signedCase: true, officeKey: api.fromHex(request.office_key), sourceSigningKey: keys.signingPublicKey };
  const results = [];
  for (const record of request.records) {
    const data = new Blob([readFileSync(record.path)]);
    try {
      const opened = await api.openAsSource(data, record.kind, keys.replySecretKey, caseId, checks);
      results.push({
        message: opened.message,
        position: opened.position,
        files: opened.files.map((f) => ({ name: f.name, hex_start: api.toHex(f.content.subarray(0, 16)), size: f.content.length })),
        files_match: opened.files.map((f) => api.toHex(f.content) === api.toHex(pattern(f.content.length, record.seed))),
      });
    } catch (error) {
      results.push({ error: error.name });
    }
  }
  return { mode: api.mode, results };
}

async function copies(api, request) {
  const keys = api.deriveSourceKeys(request.code, api.fromHex(request.install_salt));
  const caseId = api.fromHex(request.case_id);
  const results = [];
  for (const path of request.paths) {
    try {
      results.push(await api.openCopy(new Blob([readFileSync(path)]), keys.copySecretKey, caseId));
    } catch (error) {
      results.push({ error: error.name });
    }
  }
  return { mode: api.mode, results };
}

async function caseFollowup(api, request) {
  const h = api.fromHex;
  const keys = api.deriveSourceKeys(request.code, h(request.install_salt));
  const caseId = h(request.case_id);
  const announced = api.verifyCaseKey(fromBase64(request.announcement), h(request.office_key), caseId);
  const followup = await api.writeFollowup({
    message: request.message,
    files: [],
    replySecretKey: keys.replySecretKey,
    officeKeys: [announced.publicKey],
    caseId,
    signingSeed: keys.signingSeed,
    position: { sequence: 2, seen: 1 },
  });
  writeFileSync(join(request.out_dir, 'followup-case.bin'), new Uint8Array(await followup.arrayBuffer()));
  return { mode: api.mode, generation: announced.generation, key: api.toHex(announced.publicKey) };
}

function fromBase64(text) {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const [command, path] = process.argv.slice(2);
const request = JSON.parse(readFileSync(path, 'utf8'));
const api = await load();
const commands = { write, open, copies, 'case-followup': caseFollowup };
const result = await commands[command](api, request);
process.stdout.write(JSON.stringify(result) + '\n');
