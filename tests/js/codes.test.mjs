import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, vectors } from './helpers.mjs';

const CODES = vectors('codes');
const ERRORS = { checksum: api.errors.CodeChecksumError, format: api.errors.CodeFormatError };
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

test('valid code vectors: generation, bits, typed forms', () => {
  for (const v of CODES.valid) {
    const raw = api.fromHex(v.random);
    assert.equal(api.generateCode(() => raw), v.code);
    assert.equal(api.toHex(api.codeBits(v.code)), v.bits);
    for (const typed of v.typed) assert.equal(api.normalizeCode(typed), v.code, typed);
  }
});

test('codes issued before (mod-37 check symbol) keep working', () => {
  for (const v of CODES.legacy) {
    assert.equal(api.toHex(api.codeBits(v.code)), v.bits);
    for (const typed of v.typed) assert.equal(api.normalizeCode(typed), v.code, typed);
  }
});

test('check symbol vectors', () => {
  for (const v of CODES.check_symbols) assert.equal(api.checkSymbol(v.data), v.check);
});

test('invalid code vectors fail the way the vector says, at the place it says', () => {
  for (const v of CODES.invalid) {
    assert.throws(() => api.normalizeCode(v.input), (error) => {
      assert.ok(error instanceof ERRORS[v.error], `${v.why}: ${error.name}`);
      assert.ok(error instanceof api.errors.CodeError);
      assert.ok(error instanceof api.errors.WhistleCryptoError);
      assert.equal(error.kind, v.kind, v.why);
      assert.equal(error.position, v.position, v.why);
      return true;
    });
  }
});

test('generated codes are canonical letters and digits, grouped', () => {
  for (let i = 0; i < 50; i++) {
    const code = api.generateCode();
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{22}$/);
    assert.equal(api.normalizeCode(code.toLowerCase()), code);
    assert.equal(api.formatCode(code).replace(/ /g, ''), code);
    assert.equal(api.formatCode(code).split(' ').length, 6);
  }
});

test('every single substitution is located, every adjacent swap caught as one', () => {
  for (const v of CODES.valid) {
    const code = v.code;
    for (let i = 0; i < code.length; i++) {
      for (const c of ALPHABET) {
        if (c === code[i]) continue;
        const typo = code.slice(0, i) + c + code.slice(i + 1);
        assert.throws(() => api.normalizeCode(typo), (error) => {
          assert.ok(error instanceof api.errors.CodeChecksumError, typo);
          assert.deepEqual([error.kind, error.position], ['wrong', i], typo);
          return true;
        });
      }
      if (i < code.length - 1 && code[i] !== code[i + 1]) {
        const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
        assert.throws(() => api.normalizeCode(swapped), (error) => {
          assert.ok(error instanceof api.errors.CodeChecksumError, swapped);
          assert.equal(error.kind, 'swapped', swapped);
          assert.ok(error.position === i || error.position === null, swapped);
          return true;
        });
      }
    }
  }
});

test('a non-string code is a caller mistake', () => {
  assert.throws(() => api.normalizeCode(42), TypeError);
});
