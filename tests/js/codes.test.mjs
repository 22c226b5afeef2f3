import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, vectors } from './helpers.mjs';

const CODES = vectors('codes');
const ERRORS = { checksum: api.errors.CodeChecksumError, format: api.errors.CodeFormatError };

test('valid code vectors: generation, bits, typed forms', () => {
  for (const v of CODES.valid) {
    const raw = api.fromHex(v.random);
    assert.equal(api.generateCode(() => raw), v.code);
    assert.equal(api.toHex(api.codeBits(v.code)), v.bits);
    for (const typed of v.typed) assert.equal(api.normalizeCode(typed), v.code, typed);
  }
});

test('check symbol vectors', () => {
  for (const v of CODES.check_symbols) assert.equal(api.checkSymbol(v.data), v.check);
});

test('invalid code vectors fail the way the vector says', () => {
  for (const v of CODES.invalid) {
    assert.throws(() => api.normalizeCode(v.input), (error) => {
      assert.ok(error instanceof ERRORS[v.error], `${v.why}: ${error.name}`);
      assert.ok(error instanceof api.errors.CodeError);
      assert.ok(error instanceof api.errors.WhistleCryptoError);
      return true;
    });
  }
});

test('generated codes are canonical, checked and grouped', () => {
  for (let i = 0; i < 50; i++) {
    const code = api.generateCode();
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{20}[0-9A-HJKMNP-TV-Z*~$=U]$/);
    assert.equal(api.normalizeCode(code.toLowerCase()), code);
    assert.equal(api.formatCode(code).replace(/ /g, ''), code);
    assert.equal(api.formatCode(code).split(' ').length, 6);
  }
});

test('every single substitution and adjacent swap is a checksum error', () => {
  const code = CODES.valid[1].code;
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  for (let i = 0; i < 20; i++) {
    for (const c of alphabet) {
      if (c === code[i]) continue;
      const typo = code.slice(0, i) + c + code.slice(i + 1);
      assert.throws(() => api.normalizeCode(typo), api.errors.CodeChecksumError, typo);
    }
    if (i < 19 && code[i] !== code[i + 1]) {
      const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
      assert.throws(() => api.normalizeCode(swapped), api.errors.CodeChecksumError, swapped);
    }
  }
});

test('a non-string code is a caller mistake', () => {
  assert.throws(() => api.normalizeCode(42), TypeError);
});
