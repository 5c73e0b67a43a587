// Browser tests of the web UI against the real weir server (Debian's chromium driven by
// playwright-core). Run: WEIR_BIN=build/release/src/cli/weir node --test web/tests/
// (WEIR_UI_FIXTURE=1 runs them against tests/fixture_server.mjs instead, for development.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  api, jobsDir, launchBrowser, newPage, screenshot, startWeir, tempDir, useFixture, waitFor,
} from './harness.mjs';

const text = async (locator) => ((await locator.textContent()) ?? '').trim();

async function openJob(page, server, nameIncludes) {
  const jobs = await waitFor(`a job named "${nameIncludes}"`, async () => {
    const o = await api(server, 'GET', 'jobs/overview');
    return o.jobs.find((j) => j.name.includes(nameIncludes));
  });
  return jobs.jid;
}

describe('embedded: weir run --ui', () => {
  let server;
  let browser;
  let page;
  const work = tempDir('weir-web-embedded-');
  const empty = path.join(work, 'empty');
  fs.mkdirSync(empty);

  before(async () => {
    server = await startWeir(['run', '--ui', '127.0.0.1:0', path.join(jobsDir, 'stuck_watermark_job.py'), empty, '2'], {
      fixture: { upload: false },
    });
    browser = await launchBrowser();
    page = await newPage(browser);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('the UI loads: overview with the worker and the running job; the token leaves the address bar', async () => {
    await page.goto(server.pageUrl);
    await page.getByTestId('overview-page').waitFor();
    await waitFor('the token stored and stripped from the URL', async () => {
      const stored = await page.evaluate(() => localStorage.getItem('weir.token'));
      return stored === server.token && !page.url().includes('token=');
    });
    await waitFor('one running job on the overview', async () => (await text(page.getByTestId('stat-running'))) === '1');
    await waitFor('a worker row', async () => (await page.getByTestId('taskmanager-row').count()) >= 1);
    await page.getByTestId('state-count-RUNNING').waitFor();
    await screenshot(page, 'ui-overview.png');
    // Submission is off in embedded mode: the page says why.
    await page.getByTestId('nav-submit').click();
    await page.getByTestId('submit-disabled').waitFor();
    await page.getByTestId('nav-jobs').click();
    await waitFor('the job in the jobs list', async () => (await page.getByTestId('job-row').count()) === 1);
    assert.equal(await text(page.getByTestId('job-row').getByTestId('job-state')), 'RUNNING');
    await page.getByTestId('nav-logs').click();
    await page.getByTestId('log').waitFor();
    assert.deepEqual(page.errors, []);
  });

  test('a stuck watermark: the input holding it back is highlighted and named', async () => {
    const jid = await openJob(page, server, 'stuck watermark');
    await page.goto(`${server.base}#/jobs/${jid}/watermarks`);
    const holding = page.locator('.holding');
    await waitFor('a .holding input', async () => (await holding.count()) > 0);
    const label = await text(holding.first());
    assert.match(label, /held back by .*orders.* #\d/, `holding text: ${label}`);
    // The rows of the window operator are the held ones; its inputs from clicks are not holding.
    const held = page.locator('[data-testid="watermark-row"].held');
    assert.ok((await held.count()) >= 1);
    assert.match(await text(page.getByTestId('watermark-summary')), /held back by .*orders/);
    await screenshot(page, 'ui-watermarks.png');
    assert.deepEqual(page.errors, []);
  });
});

describe('cluster: weir run --workers 1 --ui --web-upload-dir', () => {
  let server;
  let browser;
  let page;
  let jid;
  const work = tempDir('weir-web-cluster-');
  const uploads = path.join(work, 'uploads');
  const checkpoints = path.join(work, 'checkpoints');
  const savepoints = path.join(work, 'savepoints');
  fs.mkdirSync(uploads);

  before(async () => {
    // The command's own job keeps the cluster up while the tests submit theirs.
    server = await startWeir(
      ['run', '--workers', '1', '--ui', '127.0.0.1:0', '--web-upload-dir', uploads,
        path.join(jobsDir, 'slow_job.py'), '100000000', '20', path.join(work, 'first-job-checkpoints')],
      { fixture: { upload: true } },
    );
    browser = await launchBrowser();
    page = await newPage(browser);
    await page.goto(server.pageUrl);
    await page.getByTestId('overview-page').waitFor();
  });

  after(async () => {
    await browser?.close();
    if (server && !useFixture) {
      // End the command's own job so weir exits by itself; stop() makes sure of it.
      try {
        const o = await api(server, 'GET', 'jobs/overview');
        for (const j of o.jobs) if (j.state === 'RUNNING') await api(server, 'PATCH', `jobs/${j.jid}?mode=cancel`);
      } catch {
        /* the server is gone already */
      }
    }
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('a .py job uploaded and run from the Submit page runs', async () => {
    await page.getByTestId('nav-submit').click();
    await page.getByTestId('upload-input').setInputFiles(path.join(jobsDir, 'slow_job.py'));
    await page.getByTestId('upload-button').click();
    const row = page.getByTestId('jar-row').filter({ hasText: 'slow_job.py' });
    await waitFor('the uploaded file in the list', async () => (await row.count()) === 1);
    await row.click();
    await screenshot(page, 'ui-submit.png');
    // Its arguments: records, rate, and the folder of its checkpoints.
    await page.getByTestId('run-args').fill(`100000000 20 ${checkpoints}`);
    await page.getByTestId('run-parallelism').fill('1');
    await page.getByTestId('run-button').click();
    const outcome = await waitFor('the job page or an error', async () => {
      if (/#\/jobs\/[0-9a-f]+/.test(page.url())) return 'job';
      const error = page.getByTestId('error');
      return (await error.count()) ? `the Submit page shows: ${await text(error.first())}` : null;
    }, 60000);
    assert.equal(outcome, 'job');
    jid = page.url().match(/#\/jobs\/([0-9a-f]+)/)[1];
    await waitFor('the job RUNNING', async () => (await text(page.getByTestId('job-state'))) === 'RUNNING', 60000);
    assert.equal(await text(page.getByTestId('job-name')), 'slow counts');
  });

  test('its graph shows and the rates update', async () => {
    assert.ok(jid, 'the submitted job');
    await page.goto(`${server.base}#/jobs/${jid}`);
    await page.getByTestId('job-graph').waitFor();
    await waitFor('two vertices or more', async () => (await page.getByTestId('vertex').count()) >= 2);
    assert.ok((await page.getByTestId('graph-edge').count()) >= 1, 'an edge between the vertices');
    const last = page.getByTestId('vertex').last();
    const rate = last.getByTestId('rate-in');
    const first = await waitFor('a records-in rate above zero', async () => {
      const t = await text(rate);
      return /^[1-9]/.test(t) ? t : null;
    });
    await waitFor(`the rate to change from ${first}`, async () => (await text(rate)) !== first, 20000);
    assert.match(await text(last.getByTestId('vertex-parallelism')), /parallelism 1/);
    await last.click();
    await waitFor('the subtasks table', async () => (await page.getByTestId('subtask-row').count()) === 1);
    await screenshot(page, 'ui-job-graph.png');
  });

  test('checkpoints: counts, history and charts', async () => {
    await page.getByTestId('tab-checkpoints').click();
    await waitFor('two completed checkpoints', async () => (await page.getByTestId('cp-row').count()) >= 2, 30000);
    assert.ok(Number(await text(page.getByTestId('cp-completed'))) >= 1);
    await page.getByTestId('cp-chart-duration').waitFor();
    await page.getByTestId('cp-chart-size').waitFor();
    await screenshot(page, 'ui-checkpoints.png');
  });

  test('a savepoint from the job page reports its location', async () => {
    await page.getByTestId('tab-graph').click();
    await page.getByTestId('savepoint-dir').fill(savepoints);
    await page.getByTestId('savepoint-button').click();
    const status = page.getByTestId('savepoint-status');
    await waitFor('the savepoint to complete', async () => /Savepoint (written|failed)/.test(await text(status)), 60000);
    const t = await text(status);
    assert.match(t, /Savepoint written: /, t);
    assert.ok(t.includes(savepoints), t);
    await screenshot(page, 'ui-savepoint.png');
  });

  test('Cancel makes the job CANCELED (asking for the token when the stored one is refused)', async () => {
    await page.evaluate(() => localStorage.setItem('weir.token', 'not-the-token'));
    await page.getByTestId('cancel-button').click();
    await page.getByTestId('token-dialog').waitFor();
    await page.getByTestId('token-input').fill(server.token);
    await page.getByTestId('token-save').click();
    await waitFor('CANCELED', async () => (await text(page.getByTestId('job-state'))) === 'CANCELED', 60000);
    assert.ok(await page.getByTestId('cancel-button').isDisabled());
    await page.getByTestId('nav-jobs').click();
    const row = page.locator(`[data-testid="job-row"][data-jid="${jid}"]`);
    await waitFor('the job among the finished ones', async () => (await page.getByTestId('finished-jobs').locator(`[data-jid="${jid}"]`).count()) === 1);
    assert.equal(await text(row.getByTestId('job-state')), 'CANCELED');
    await screenshot(page, 'ui-jobs.png');
    assert.deepEqual(page.errors, []);
  });

  test('a failing job: its exceptions show the Python traceback', async () => {
    await page.getByTestId('nav-submit').click();
    await page.getByTestId('upload-input').setInputFiles(path.join(jobsDir, 'failing_job.py'));
    await page.getByTestId('upload-button').click();
    const row = page.getByTestId('jar-row').filter({ hasText: 'failing_job.py' });
    await waitFor('the uploaded file in the list', async () => (await row.count()) === 1);
    await row.click();
    await page.getByTestId('run-parallelism').fill('1');
    await page.getByTestId('run-button').click();
    await waitFor('the job page', async () => /#\/jobs\/[0-9a-f]+/.test(page.url()), 60000);
    await waitFor('FAILED', async () => (await text(page.getByTestId('job-state'))) === 'FAILED', 60000);
    await page.getByTestId('tab-exceptions').click();
    const root = page.getByTestId('root-exception').locator('pre');
    await waitFor('the root cause', async () => (await root.count()) === 1);
    const trace = await text(root);
    assert.match(trace, /record 50 is not welcome here/, trace);
    assert.match(trace, /Traceback|ValueError/, trace);
    await waitFor('an entry in the history', async () => (await page.getByTestId('exception-entry').count()) >= 1);
    await screenshot(page, 'ui-exceptions.png');
    assert.deepEqual(page.errors, []);
  });
});
