// The flow of tests/e2e/flow.json in Firefox ESR with the prefs that approximate Tor Browser
// *Safer* (no WebAssembly, no JIT, no asm.js), driven by puppeteer-core over WebDriver BiDi.
// tests/e2e/test_firefox.py runs it against the test server:
//
//   node tests/e2e/firefox.mjs BASE_URL TMP_DIR SHOT_DIR
//
// Talks line by line on stdout / stdin: prints {"code": …} once the receipt shows the code,
// waits for one line on stdin (the test has inserted the office's reply), then goes on and
// prints {"done": true, "mode": …} at the end. Any failure: {"error": …} and exit status 1.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import puppeteer from 'puppeteer-core';

const [base, tmp, shotDir] = process.argv.slice(2);
const flow = JSON.parse(readFileSync(new URL('./flow.json', import.meta.url), 'utf8'));
const WAIT = { timeout: 180000 };
const SAFER = {
  'javascript.options.wasm': false,
  'javascript.options.ion': false,
  'javascript.options.baselinejit': false,
  'javascript.options.native_regexp': false,
  'javascript.options.asmjs': false,
  // Keep Firefox off the network: this is a closed machine.
  'app.update.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
};

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n');
let shot = 0;

async function screenshot(page, name) {
  shot += 1;
  await page.screenshot({ path: join(shotDir, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

function files(list) {
  return list.map((f) => {
    const path = join(tmp, f.name);
    writeFileSync(path, f.content);
    return path;
  });
}

/** The form control a visible label names (labels come from flow.json, as in Playwright). */
async function byLabel(page, text) {
  const id = await page.evaluate((wanted) => {
    for (const label of document.querySelectorAll('label')) {
      const control = label.control;
      if (label.textContent.includes(wanted) && control && control.offsetParent !== null) return control.id;
    }
    return null;
  }, text);
  if (!id) throw new Error(`no visible control labelled ${text}`);
  return page.$(`#${id}`);
}

async function clickButton(page, text) {
  const clicked = await page.evaluate((wanted) => {
    for (const button of document.querySelectorAll('button')) {
      if (button.textContent.trim() === wanted && button.offsetParent !== null) {
        button.click();
        return true;
      }
    }
    return false;
  }, text);
  if (!clicked) throw new Error(`no button ${text}`);
}

const mainText = (page) => page.$eval('main', (m) => m.innerText);

async function checkIn(page, code) {
  await page.goto(`${base}/check-in`);
  await page.waitForSelector('html[data-encryption=page]', WAIT);
  await (await byLabel(page, 'Your code')).type(code);
  await clickButton(page, 'Check in');
  await page.waitForSelector('#sealed-conversation:not([hidden])', WAIT);
}

async function run() {
  mkdirSync(shotDir, { recursive: true });
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: '/usr/bin/firefox-esr',
    headless: true,
    extraPrefsFirefox: SAFER,
  });
  try {
    const page = await browser.newPage();
    const report = flow.report;
    await page.goto(`${base}/language/${flow.language}?next=/report`);
    await page.waitForSelector('html[data-encryption=page]', WAIT);
    const modeText = await page.$eval('#mode', (m) => m.textContent);
    if (!modeText.includes(flow.mode_text.page)) throw new Error(`mode: ${modeText}`);
    const mode = await page.$eval('html', (h) => h.getAttribute('data-crypto-mode'));
    for (const entry of report.fields.concat(report.identification)) {
      await (await byLabel(page, entry.label)).type(entry.value);
    }
    await (await byLabel(page, 'Files (optional)')).uploadFile(...files(report.files));
    await (await byLabel(page, report.identified)).click();
    await (await byLabel(page, report.meeting)).click();
    await (await byLabel(page, report.availability.label)).type(report.availability.value);
    await (await byLabel(page, report.accept)).click();
    await screenshot(page, 'report');
    await clickButton(page, report.submit);
    await page.waitForFunction(() => {
      const code = document.getElementById('code');
      return code && code.textContent.trim();
    }, WAIT);
    const code = (await page.$eval('#code', (c) => c.textContent)).trim();
    await screenshot(page, 'receipt');
    // The code exists only in this page: leaving asks first until it is confirmed written down.
    const leavingAsks = () =>
      page.evaluate(() => {
        const leaving = new Event('beforeunload', { cancelable: true });
        window.dispatchEvent(leaving);
        return leaving.defaultPrevented;
      });
    if (!(await leavingAsks())) throw new Error('leaving the receipt does not ask first');
    await (await byLabel(page, flow.receipt.written)).click();
    await Promise.all([page.waitForNavigation(), clickButton(page, flow.receipt.done)]);
    if (!(await mainText(page)).includes(flow.receipt.thanks)) throw new Error('no thanks page');
    await screenshot(page, 'receipt-done');
    say({ code });
    await lines.next(); // the test inserted the office's reply

    // A mistyped code is a code error beside the field, not an encryption failure.
    await page.goto(`${base}/check-in`);
    await page.waitForSelector('html[data-encryption=page]', WAIT);
    const compact = code.replace(/ /g, '');
    const wrong = compact[5] === 'Z' ? 'Y' : 'Z';
    const typo = compact.slice(0, 5) + wrong + compact.slice(6);
    await (await byLabel(page, 'Your code')).type(typo);
    await clickButton(page, 'Check in');
    await page.waitForSelector('#code-error:not([hidden])', WAIT);
    const refused = await page.evaluate(() => ({
      text: document.getElementById('code-error-text').textContent,
      mark: (document.querySelector('#code-error mark') || {}).textContent,
      kept: document.getElementById('code').value,
      plainOffered: !document.getElementById('sealed-error').hidden,
    }));
    if (
      !refused.text.includes('character 2 of group 2 is wrong') ||
      refused.mark !== wrong ||
      refused.kept !== typo ||
      refused.plainOffered
    ) {
      throw new Error(`mistyped code: ${JSON.stringify(refused)}`);
    }
    await screenshot(page, 'check-in-mistyped');

    await checkIn(page, code.toLowerCase().replace(/ /g, '-'));
    let text = await mainText(page);
    for (const needle of [report.fields[0].value, flow.reply, ...report.files.map((f) => f.name)]) {
      if (!text.includes(needle)) throw new Error(`conversation lacks ${needle}`);
    }
    await screenshot(page, 'conversation');
    const followup = flow.followup;
    await (await byLabel(page, 'Your message')).type(followup.message);
    await (await byLabel(page, 'Files (optional)')).uploadFile(...files(followup.files));
    await clickButton(page, followup.submit);
    await page.waitForSelector('#sealed-sent h3', WAIT);
    if (!(await mainText(page)).includes(followup.sent)) throw new Error('follow-up not sent');
    await screenshot(page, 'follow-up-sent');

    await checkIn(page, code);
    text = await mainText(page);
    if (!text.includes(followup.message)) throw new Error('the follow-up is not in the conversation');
    await screenshot(page, 'conversation-again');
    say({ done: true, mode });
  } finally {
    await browser.close();
  }
}

run().then(
  () => process.exit(0),
  (error) => {
    say({ error: String((error && error.stack) || error) });
    process.exit(1);
  },
);
