import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanSize } from '../../js/sizes.js';
import { vectors } from './helpers.mjs';

test('file sizes are shown as the pages without JavaScript show them', () => {
  for (const v of vectors('sizes').sizes) assert.equal(humanSize(v.size), v.shown, String(v.size));
});
