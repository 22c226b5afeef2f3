// Runs bench/js_browser.py's in-page measurement in Firefox ESR with Tor Browser *Safer*'s
// prefs (no WebAssembly, JIT or asm.js), over WebDriver BiDi (puppeteer-core).
// Called by `bench/js_browser.py --firefox`: node bench/js_firefox.mjs URL MIB, the
// measurement's source on stdin; prints one JSON line.
import { readFileSync } from 'node:fs';
import puppeteer from 'puppeteer-core';

const [url, mib] = process.argv.slice(2);
const measure = readFileSync(0, 'utf8');
const browser = await puppeteer.launch({
  browser: 'firefox',
  protocol: 'webDriverBiDi',
  executablePath: '/usr/bin/firefox-esr',
  headless: true,
  protocolTimeout: 1800000,
  extraPrefsFirefox: {
    'javascript.options.wasm': false,
    'javascript.options.ion': false,
    'javascript.options.baselinejit': false,
    'javascript.options.native_regexp': false,
    'javascript.options.asmjs': false,
  },
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(1800000);
  await page.goto(url);
  const result = await page.evaluate(`(${measure})(${Number(mib)})`);
  process.stdout.write(JSON.stringify({ browser: await browser.version(), ...result }) + '\n');
} finally {
  await browser.close();
}
