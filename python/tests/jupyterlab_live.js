// Opens a notebook in JupyterLab in headless Chromium, runs all its cells, and reads the live
// table of weir.notebook's view twice: it must change while the job runs. Prints one JSON line
// with what it saw. Used by python/tests/test_notebook_lab.py.
//
// env: PLAYWRIGHT_CORE (path of the playwright-core package), CHROMIUM, LAB_URL (the server's
// base URL), LAB_TOKEN, NOTEBOOK (path relative to the server's root), SCREENSHOT (a .png path).
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const seen = { reads: [], states: [], times: {} };
  const t0 = Date.now();
  const mark = (what) => { seen.times[what] = (Date.now() - t0) / 1000; };
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const base = process.env.LAB_URL.replace(/\/$/, '');
    await page.goto(`${base}/lab/tree/${process.env.NOTEBOOK}?token=${process.env.LAB_TOKEN}`);
    // The app is exposed (LabApp.expose_app_in_browser): wait for the notebook and its kernel.
    await page.waitForFunction(() => {
      const app = window.jupyterapp;
      const w = app && app.shell.currentWidget;
      return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel &&
        w.sessionContext.session.kernel.connectionStatus === 'connected';
    }, null, { timeout: 90000 });
    mark('kernel');
    // Run the cells up to the one that shows the live view, and leave the kernel free while the
    // job runs (JupyterLab's widget manager asks the kernel for its widgets before it renders the
    // first one; a cell that blocks the kernel delays the view until it ends).
    const displayCell = await page.evaluate(async () => {
      const app = window.jupyterapp;
      const panel = app.shell.currentWidget;
      const cells = panel.content.widgets;
      const i = cells.findIndex((c) => c.model.type === 'code' && c.model.sharedModel.getSource().includes('.display('));
      panel.content.activeCellIndex = i;
      await app.commands.execute('notebook:run-all-above');
      await app.commands.execute('notebook:run-cell');
      return i;
    });
    seen.displayCell = displayCell;
    await page.locator('.weir-live').first().waitFor({ state: 'attached', timeout: 90000 });
    mark('view');
    const table = page.locator('.weir-live-table tbody');
    await table.first().waitFor({ state: 'attached', timeout: 90000 });
    const read = async () => (await table.first().innerText()).trim();
    let first = await read();
    // Wait until the table has rows, then until its content changes.
    const deadline = Date.now() + 90000;
    while (first === '' && Date.now() < deadline) {
      await page.waitForTimeout(100);
      first = await read();
    }
    mark('first');
    seen.reads.push(first);
    seen.states.push((await page.locator('.weir-live-state').first().innerText()).trim());
    let second = first;
    while (second === first && Date.now() < deadline) {
      await page.waitForTimeout(100);
      second = await read();
    }
    mark('second');
    seen.reads.push(second);
    await page.locator('.weir-live').first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: false });
    seen.states.push((await page.locator('.weir-live-state').first().innerText()).trim());
    const link = page.locator('.weir-live-status a');
    seen.ui_link = (await link.count()) ? await link.first().getAttribute('href') : '';
    // Then the job ends by itself (bounded): the view says so.
    await page.locator('.weir-live-state', { hasText: 'FINISHED' }).first().waitFor({ timeout: 120000 });
    seen.states.push((await page.locator('.weir-live-state').first().innerText()).trim());
    seen.final = (await read());
    // The rest of the notebook: its check of the counts.
    await page.evaluate(async (i) => {
      const app = window.jupyterapp;
      const panel = app.shell.currentWidget;
      panel.content.activeCellIndex = i + 1;
      await app.commands.execute('notebook:run-all-below');
    }, displayCell);
    await page.getByText('match: True').first().waitFor({ timeout: 60000 });
    seen.checked = true;
    seen.bars = await page.locator('.weir-live-chart rect').count();
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
