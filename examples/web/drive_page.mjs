// Drives the digits page in headless Chromium (playwright-core, the system's browser) the way a
// visitor would, and writes what the page showed as JSON. Used by tests/export/test_web.py:
//
//   node drive_page.mjs --url http://127.0.0.1:PORT/ --out result.json --screenshot page.png
//       [--clicks 20] [--chromium /usr/bin/chromium]
//
// It waits for the page to load the model, reads the predictions it made for the grid of test
// digits, clicks the first --clicks digits one by one (reading the prediction shown each time),
// draws a stroke on the pad, then clicks a digit the model gets right and takes a screenshot.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    out: { type: 'string' },
    screenshot: { type: 'string' },
    clicks: { type: 'string', default: '20' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    timeout: { type: 'string', default: '30000' },
  },
});
if (!args.url || !args.out) {
  console.error('usage: node drive_page.mjs --url URL --out RESULT.json [--screenshot PNG]');
  process.exit(2);
}
const timeout = Number(args.timeout);
const started = Date.now();

// Playwright gives each launch a fresh temporary profile (--user-data-dir) and adds --headless
// and, with chromiumSandbox false, --no-sandbox; the rest keep Chromium off the network, which
// is closed here (without them it retries refused connections all along).
const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  chromiumSandbox: false,
  timeout,
  args: [
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const result = { console: [], errors: [], clicks: [], timings: {} };
const mark = (what) => (result.timings[what] = (Date.now() - started) / 1000);
mark('launched');
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 }, deviceScaleFactor: 1 });
  page.setDefaultTimeout(timeout);
  page.on('console', (msg) => result.console.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => result.errors.push(String(err)));

  await page.goto(args.url);
  await page.waitForFunction(() => ['ready', 'error'].includes(window.digitsDemo?.status));
  const state = await page.evaluate(() => {
    const { status, error, version, metadata, classNames, grid } = window.digitsDemo;
    return { status, error, version, metadata, classNames, grid };
  });
  mark('ready');
  Object.assign(result, state);
  if (state.status !== 'ready') throw new Error(`the page did not start: ${state.error}`);

  // Each click shows its digit's prediction; read what the page shows, not only its state.
  for (let i = 0; i < Math.min(Number(args.clicks), state.grid.length); i++) {
    await page.click(`.thumb[data-index="${i}"]`);
    const shown = await page.evaluate(async () => {
      await window.digitsDemo.idle();
      const { last } = window.digitsDemo;
      return {
        source: last.source,
        predicted: last.predicted,
        logits: last.logits,
        text: document.getElementById('predicted').textContent,
        shownFor: document.getElementById('result').dataset.shown,
      };
    });
    result.clicks.push(shown);
  }

  mark('clicked');

  // A drawn "7": the top bar, then the slanted stem. The mouse drives real pointer events.
  const pad = await page.locator('#pad').boundingBox();
  const at = (fx, fy) => [pad.x + fx * pad.width, pad.y + fy * pad.height];
  const path = [
    [0.28, 0.2],
    [0.72, 0.2],
    [0.62, 0.45],
    [0.5, 0.82],
  ];
  await page.mouse.move(...at(...path[0]));
  await page.mouse.down();
  for (const point of path.slice(1)) await page.mouse.move(...at(...point), { steps: 8 });
  await page.mouse.up();
  result.drawing = await page.evaluate(async () => {
    await window.digitsDemo.idle();
    const { last } = window.digitsDemo;
    return { source: last.source, input: last.input, predicted: last.predicted, logits: last.logits };
  });
  if (args.screenshot) await page.screenshot({ path: args.screenshot.replace(/\.png$/, '-drawn.png') });

  mark('drawn');

  // The screenshot for the docs: a test digit that the model gets right.
  const right = state.grid.findIndex((d) => d.predicted === d.label);
  await page.click(`.thumb[data-index="${Math.max(0, right)}"]`);
  await page.evaluate(() => window.digitsDemo.idle());
  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
  mark('done');
} catch (err) {
  result.failure = String(err?.stack ?? err);
} finally {
  await browser.close();
  writeFileSync(args.out, JSON.stringify(result, null, 1));
}
process.exit(result.failure ? 1 : 0);
