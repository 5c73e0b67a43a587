// What the browser tests share: starting weir with its UI (or, with WEIR_UI_FIXTURE=1, the
// fixture server), the browser, waiting for conditions, screenshots.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startFixtureServer } from './fixture_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const jobsDir = path.join(here, 'jobs');
export const useFixture = process.env.WEIR_UI_FIXTURE === '1';

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts `weir <args>` and waits for its "Weir UI: URL" line on stderr. Returns the page URL
 *  (with #token=), the base URL, the token and stop(). `fixture`: options of the fixture server
 *  used instead when WEIR_UI_FIXTURE=1. */
export async function startWeir(args, { fixture = {}, timeoutMs = 60000, env: extraEnv = {} } = {}) {
  if (useFixture) {
    const f = await startFixtureServer({ ...fixture, root: process.env.WEIR_WEB_ROOT || undefined, log: false });
    return { pageUrl: `${f.url}#token=${f.token}`, base: f.url, token: f.token, output: () => '', stop: f.close };
  }
  const bin = process.env.WEIR_BIN || path.join(repoRoot, 'build', 'release', 'src', 'cli', 'weir');
  if (!fs.existsSync(bin)) throw new Error(`weir binary not found at ${bin} (set WEIR_BIN)`);
  const env = { ...process.env, ...extraEnv };
  if (!env.WEIR_WEB_ROOT) env.WEIR_WEB_ROOT = path.join(repoRoot, 'web', 'dist');
  // Its own process group, so stop() ends the workers and job processes it started too.
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Weir UI:" line from weir within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
    const check = () => {
      const m = out.match(/Weir UI: (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr.on('data', check);
    child.stdout.on('data', check);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`weir exited (${code ?? signal}) before printing its UI address; output:\n${out}`));
    });
  });
  const token = (url.match(/#token=([^&\s]+)/) ?? [])[1] ?? '';
  const base = url.replace(/#.*$/, '');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGINT');
    } catch {
      /* already gone */
    }
    const ended = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 10000))]);
    if (!ended) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exited;
    }
  };
  return { pageUrl: url, base, token, output: () => out, stop, exited };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.WEIR_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
}

/** A page that records uncaught errors and accepts confirm() dialogs. */
export async function newPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('dialog', (d) => d.accept());
  return page;
}

/** Polls fn until it returns a truthy value; throws with `what` after timeoutMs. */
export async function waitFor(what, fn, timeoutMs = 30000, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function screenshotDir() {
  const dir = process.env.WEIR_SCREENSHOT_DIR || path.join(repoRoot, 'build', 'release', 'web-screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export async function screenshot(page, name) {
  const file = path.join(screenshotDir(), name);
  await page.mouse.move(1, 600); // no hover highlight in the picture
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A JSON API call from the test itself (base URL, token for changes). */
export async function api(server, method, p, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers.Authorization = `Bearer ${server.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(new URL(p, server.base), { method, headers, body: body === undefined ? (method === 'GET' ? undefined : '') : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}
