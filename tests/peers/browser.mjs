// Headless-browser driver for muster's SSO integration tests: runs one plan
// in Debian's chromium through playwright-core and reports where it ended.
//
//   node browser.mjs '<plan json>'      (or the plan in env BROWSER_PLAN)
//
// Plan: {"start": "<url>", "steps": [...], "timeout_ms": 20000}
// Steps, run in order, each waiting (within the plan's time budget) until it
// can act:
//   {"goto": "<url>"}
//   {"click": "<target>"}   a button, link or text with exactly that name, or
//                           a CSS selector; a `css=`/`text=`/`xpath=`/`role=`
//                           prefix selects the Playwright engine explicitly
//   {"fill": {"<field>": "<value>", ...}}  field by name attribute, label,
//                           placeholder or id
//   {"expect_url_prefix": "<prefix>"}
//   {"expect_text": "<text>"}  text somewhere in the page's body
//
// Prints one JSON line and exits 0 if every step passed, else 1:
//   {"ok": true, "url": ..., "text": ..., "cookies": [{name, domain, path,
//    httpOnly, secure, sameSite}]}
//   {"ok": false, "error": ..., "url": ..., "text": ...}
// `text` is the body's innerText, cut at 4000 characters. A navigation to an
// address that does not answer (a test's redirect target with no server) is
// not an error: `url` is then the address the browser tried to reach and
// `nav_error` says why it failed.
//
// CHROMIUM overrides the browser binary (default /usr/bin/chromium).

import { chromium } from 'playwright-core';

const TEXT_LIMIT = 4000;

function emit(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

let plan;
try {
  plan = JSON.parse(process.argv[2] ?? process.env.BROWSER_PLAN ?? '');
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) throw new Error('plan must be an object');
} catch (e) {
  emit({ ok: false, error: `bad plan: ${e.message}`, url: null, text: '' });
  process.exit(1);
}
const deadline = Date.now() + (plan.timeout_ms ?? 20000);
const remaining = () => Math.max(1, deadline - Date.now());
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// The network here is loopback only: keep chromium from calling home.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage',
    '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
});
// Whatever happens, never outlive the plan's budget by much.
const killer = setTimeout(() => {
  emit({ ok: false, error: 'timed out', url: null, text: '' });
  process.exit(1);
}, remaining() + 10000);

const context = await browser.newContext();
const page = await context.newPage();

// Track the main frame's last navigation, so that a redirect to a dead
// address still reports where it went instead of chrome-error://.
let lastNav = null;
let navError = null;
page.on('request', (req) => {
  if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
    lastNav = req.url();
    navError = null;
  }
});
page.on('requestfailed', (req) => {
  if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
    lastNav = req.url();
    navError = req.failure()?.errorText ?? 'failed';
  }
});

function currentUrl() {
  const url = page.url();
  return url.startsWith('chrome-error://') && lastNav ? lastNav : url;
}

async function pageText() {
  try {
    const text = await page.evaluate(() => document.body?.innerText ?? '');
    return text.length > TEXT_LIMIT ? text.slice(0, TEXT_LIMIT) : text;
  } catch {
    return '';
  }
}

// Polls until one of the candidate locators matches (pages may still be
// loading or navigating when a step starts).
async function firstMatch(candidates, what) {
  for (;;) {
    for (const make of candidates) {
      try {
        const loc = make();
        if (await loc.count() > 0) return loc.first();
      } catch {
        // invalid selector for this engine, or the page is mid-navigation
      }
    }
    if (Date.now() >= deadline) throw new Error(`not found: ${what}`);
    await sleep(100);
  }
}

const ENGINE = /^(css|text|xpath|role|id)=/;
const cssAttr = (s) => JSON.stringify(String(s));

function clickTarget(t) {
  if (ENGINE.test(t)) return [() => page.locator(t)];
  return [
    () => page.getByRole('button', { name: t, exact: true }),
    () => page.getByRole('link', { name: t, exact: true }),
    () => page.locator(`input[type=submit][value=${cssAttr(t)}]`),
    () => page.getByText(t, { exact: true }),
    () => page.locator(t),
  ];
}

function fieldTarget(f) {
  if (ENGINE.test(f)) return [() => page.locator(f)];
  return [
    () => page.locator(`[name=${cssAttr(f)}]`),
    () => page.getByLabel(f, { exact: true }),
    () => page.getByPlaceholder(f, { exact: true }),
    () => page.locator(`[id=${cssAttr(f)}]`),
  ];
}

async function waitFor(check, what) {
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function goto(url) {
  try {
    await page.goto(url, { timeout: remaining() });
  } catch (e) {
    if (!navError) throw e; // an unreachable target is reported, not fatal
  }
}

async function runStep(step) {
  const [kind, arg] = Object.entries(step)[0] ?? [];
  switch (kind) {
    case 'goto':
      return goto(arg);
    case 'click': {
      const loc = await firstMatch(clickTarget(arg), `click target ${JSON.stringify(arg)}`);
      return loc.click({ timeout: remaining() });
    }
    case 'fill':
      for (const [field, value] of Object.entries(arg)) {
        const loc = await firstMatch(fieldTarget(field), `field ${JSON.stringify(field)}`);
        await loc.fill(String(value), { timeout: remaining() });
      }
      return undefined;
    case 'expect_url_prefix':
      return waitFor(async () => currentUrl().startsWith(arg), `url starting with ${arg} (at ${currentUrl()})`);
    case 'expect_text':
      return waitFor(async () => (await pageText()).includes(arg), `text ${JSON.stringify(arg)}`);
    default:
      throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
}

let result;
let index = -1;
try {
  if (plan.start) await goto(plan.start);
  for (index = 0; index < (plan.steps ?? []).length; index += 1) {
    await runStep(plan.steps[index]);
  }
  // Let a navigation started by the last step settle before reading the page.
  await page.waitForLoadState('load', { timeout: Math.min(remaining(), 5000) }).catch(() => {});
  const cookies = (await context.cookies()).map((c) => ({
    name: c.name, domain: c.domain, path: c.path, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite,
  }));
  result = { ok: true, url: currentUrl(), text: await pageText(), cookies };
} catch (e) {
  const where = index >= 0 ? `step ${index} ${JSON.stringify(plan.steps[index])}` : 'start';
  result = { ok: false, error: `${where}: ${e.message.split('\n')[0]}`, url: currentUrl(), text: await pageText() };
}
if (navError) result.nav_error = navError;
emit(result);
clearTimeout(killer);
await browser.close().catch(() => {});
process.exit(result.ok ? 0 : 1);
