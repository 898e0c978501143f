#!/usr/bin/env node
// Loads one page in headless Chromium through a proxy and reports what arrived.
//
// Usage: node drive.js '<json>'   where the JSON object holds
//   executablePath  the Chromium binary (Debian: /usr/bin/chromium)
//   url             the page to load
//   proxy           {server, username, password, bypass} as Playwright takes it; the
//                   credentials answer the proxy's 407 (Chromium picks Basic or Digest
//                   itself and computes the answer)
//   args            extra Chromium switches (e.g. --ignore-certificate-errors-spki-list=...)
//   ignoreHTTPSErrors  accept any origin certificate (default false)
//   timeoutMs       navigation bound (default 30000)
//   screenshot      a PNG path to write, optional
// Prints one JSON line: {ok, status, title, text, url, error, failed}; exit 0 when the page
// loaded (whatever its status), 1 when navigation failed.
'use strict';

const { chromium } = require('playwright-core');

async function main() {
  const cfg = JSON.parse(process.argv[2] || '{}');
  const timeout = cfg.timeoutMs || 30000;
  const out = { ok: false, status: null, title: null, text: null, url: cfg.url, error: null,
                failed: [] };
  let browser;
  const watchdog = setTimeout(() => {
    out.error = `driver watchdog: no result after ${timeout + 15000} ms`;
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(3);
  }, timeout + 15000);
  try {
    browser = await chromium.launch({
      executablePath: cfg.executablePath || '/usr/bin/chromium',
      headless: true,
      timeout,
      // Root in a container: no sandbox. Loopback destinations go through the proxy only
      // with <-loopback> in the bypass list.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run',
             '--disable-background-networking', '--disable-component-update',
             '--disable-features=Translate,OptimizationHints,MediaRouter',
             ...(cfg.args || [])],
      proxy: cfg.proxy,
    });
    const context = await browser.newContext({ ignoreHTTPSErrors: !!cfg.ignoreHTTPSErrors });
    const page = await context.newPage();
    page.on('requestfailed', (r) => out.failed.push(`${r.url()}: ${r.failure() && r.failure().errorText}`));
    const resp = await page.goto(cfg.url, { timeout, waitUntil: 'load' });
    out.status = resp ? resp.status() : null;
    out.title = await page.title();
    out.text = await page.evaluate(() => document.body ? document.body.innerText : '');
    if (cfg.screenshot) {
      await page.screenshot({ path: cfg.screenshot, fullPage: true });
    }
    out.ok = true;
  } catch (e) {
    out.error = String(e && e.message ? e.message : e).slice(0, 4000);
  } finally {
    if (browser) {
      await browser.close().catch(() => {});
    }
    clearTimeout(watchdog);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(out.ok ? 0 : 1);
}

main();
