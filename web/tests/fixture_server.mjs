// A stand-in for Weir's REST server, written to the shapes of the REST API (Flink's paths and
// field names), for developing the pages without a running engine:
//   node web/tests/fixture_server.mjs [--port N] [--upload] [--root web/dist]
// It prints "Weir UI: http://127.0.0.1:PORT/#token=TOKEN" on stderr as weir does. The jobs are
// simulated: rates move every second, checkpoints complete, one job's watermark is stuck.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export function startFixtureServer({ port = 0, upload = false, root = path.join(here, '..', 'dist'), log = true } = {}) {
  const token = crypto.randomBytes(16).toString('hex');
  const started = Date.now();
  const jobs = new Map();
  const jars = [];
  const savepoints = new Map();
  const logLines = [];
  const logLine = (msg) => logLines.push(`${new Date().toISOString()} INFO  ${msg}`);
  logLine('Weir fixture server started');

  const vid = () => crypto.randomBytes(16).toString('hex');

  function makeJob(name, kind, parallelism = 2) {
    const jid = crypto.randomBytes(16).toString('hex');
    const nodes =
      kind === 'stuck'
        ? [
            { id: vid(), name: 'Source: clicks -> pace', p: parallelism, inputs: [], rate: 100 },
            { id: vid(), name: 'Source: orders -> parse', p: parallelism, inputs: [], rate: 0 },
            { id: vid(), name: 'sums -> discard', p: parallelism, inputs: [0, 1], rate: 100, strategy: 'HASH' },
          ]
        : [
            { id: vid(), name: 'Source: Sequence -> throttle', p: parallelism, inputs: [], rate: 200 },
            { id: vid(), name: 'running counts -> discard', p: parallelism, inputs: [0], rate: 200, strategy: 'HASH' },
          ];
    const job = { jid, name, kind, state: 'RUNNING', start: Date.now(), end: -1, nodes, records: nodes.map(() => 0), checkpoints: [], exceptions: [] };
    jobs.set(jid, job);
    logLine(`Job ${name} (${jid}) switched to RUNNING`);
    return job;
  }
  makeJob('stuck watermark', 'stuck');

  // Every second: records flow, a checkpoint completes.
  const ticker = setInterval(() => {
    for (const job of jobs.values()) {
      if (job.state !== 'RUNNING') continue;
      job.nodes.forEach((n, i) => {
        n.current = n.rate ? Math.round(n.rate * (0.8 + Math.random() * 0.4)) : 0;
        job.records[i] += n.current;
      });
      const id = job.checkpoints.length + 1;
      job.checkpoints.push({
        id, status: 'COMPLETED', is_savepoint: false, trigger_timestamp: Date.now() - 40, latest_ack_timestamp: Date.now(),
        state_size: 4096 + id * 512 + Math.round(Math.random() * 1000), checkpointed_size: 4096,
        end_to_end_duration: 20 + Math.round(Math.random() * 60), alignment_duration: Math.round(Math.random() * 5),
        num_subtasks: job.nodes.reduce((a, n) => a + n.p, 0), num_acknowledged_subtasks: job.nodes.reduce((a, n) => a + n.p, 0),
        external_path: null,
      });
    }
  }, 1000);

  const terminal = (s) => ['FINISHED', 'CANCELED', 'FAILED'].includes(s);

  function vertexJson(job, n, i) {
    const running = job.state === 'RUNNING';
    const rate = running ? n.current ?? 0 : 0;
    const out = i === job.nodes.length - 1 ? 0 : rate;
    const bp = job.kind === 'slow' && i === 0 ? 'low' : 'ok';
    return {
      id: n.id, name: n.name, maxParallelism: 128, parallelism: n.p, status: job.state === 'CANCELED' ? 'CANCELED' : job.state,
      'start-time': job.start, 'end-time': job.end, duration: (terminal(job.state) ? job.end : Date.now()) - job.start,
      tasks: { [job.state]: n.p },
      metrics: {
        'read-bytes': job.records[i] * 8, 'read-bytes-complete': true, 'write-bytes': job.records[i] * 8, 'write-bytes-complete': true,
        'read-records': n.inputs.length ? job.records[i] : 0, 'read-records-complete': true, 'write-records': job.records[i], 'write-records-complete': true,
        'accumulated-backpressured-time': 0, 'accumulated-idle-time': 0, 'accumulated-busy-time': 0,
      },
      rates: {
        'records-in-per-second': n.inputs.length ? rate : 0, 'records-out-per-second': out,
        'bytes-in-per-second': rate * 8, 'bytes-out-per-second': out * 8,
        'busy-ms-per-second': running ? 300 : 0, 'idle-ms-per-second': running ? 500 : 1000, 'backpressured-ms-per-second': bp === 'low' ? 200 : 0,
      },
      'backpressure-level': bp,
      watermark: job.kind === 'stuck' && n.inputs.length ? null : Date.now() - 2000,
    };
  }

  function jobDetails(job) {
    return {
      jid: job.jid, name: job.name, isStoppable: false, state: job.state, 'job-type': 'STREAMING',
      'start-time': job.start, 'end-time': job.end, duration: (terminal(job.state) ? job.end : Date.now()) - job.start,
      maxParallelism: 128, now: Date.now(), timestamps: { RUNNING: job.start },
      vertices: job.nodes.map((n, i) => vertexJson(job, n, i)),
      'status-counts': { [job.state]: job.nodes.length },
      plan: {
        jid: job.jid, name: job.name, type: 'STREAMING',
        nodes: job.nodes.map((n) => ({
          id: n.id, parallelism: n.p, operator: '', operator_strategy: '', description: n.name,
          inputs: n.inputs.map((k, num) => ({ num, id: job.nodes[k].id, ship_strategy: n.strategy ?? 'FORWARD', exchange: 'pipelined_bounded' })),
        })),
      },
    };
  }

  function watermarks(job) {
    const now = Date.now();
    return {
      now,
      vertices: job.nodes.map((n) => ({
        id: n.id, name: n.name,
        subtasks: Array.from({ length: n.p }, (_, s) => {
          const isOrders = n.name.includes('orders');
          const own = isOrders ? null : now - 1500;
          if (!n.inputs.length) return { subtask: s, 'input-watermark': null, 'output-watermark': own, 'lag-ms': null, 'holding-input': null, inputs: [] };
          const inputs = [];
          for (const k of n.inputs) {
            const up = job.nodes[k];
            for (let u = 0; u < up.p; u++) {
              const w = up.name.includes('orders') ? null : now - 1500 - u * 100;
              inputs.push({ index: inputs.length, 'upstream-id': up.id, 'upstream-name': up.name, 'upstream-subtask': u, watermark: w, idle: false, ended: false, holding: false });
            }
          }
          let hold = inputs[0];
          for (const i of inputs) if ((i.watermark ?? -Infinity) < (hold.watermark ?? -Infinity)) hold = i;
          hold.holding = true;
          const iw = hold.watermark;
          return { subtask: s, 'input-watermark': iw, 'output-watermark': iw, 'lag-ms': iw === null ? null : now - iw, 'holding-input': hold.index, inputs };
        }),
      })),
    };
  }

  function checkpoints(job) {
    const h = [...job.checkpoints].reverse().slice(0, 50);
    const done = job.checkpoints.filter((c) => c.status === 'COMPLETED');
    const stat = (f) => ({ min: Math.min(...done.map(f), 0), max: Math.max(...done.map(f), 0), avg: done.length ? done.map(f).reduce((a, b) => a + b, 0) / done.length : 0 });
    return {
      counts: { restored: 0, total: job.checkpoints.length, in_progress: 0, completed: done.length, failed: 0 },
      summary: { state_size: stat((c) => c.state_size), end_to_end_duration: stat((c) => c.end_to_end_duration), alignment_duration: stat((c) => c.alignment_duration) },
      latest: { completed: done[done.length - 1] ?? null, savepoint: [...job.checkpoints].reverse().find((c) => c.is_savepoint) ?? null, failed: null, restored: null },
      history: h,
    };
  }

  const send = (res, code, body, type = 'application/json') => {
    res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store' });
    res.end(type === 'application/json' ? JSON.stringify(body) : body);
  };
  const authorized = (req) => req.headers['authorization'] === `Bearer ${token}`;

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (e) {
        send(res, 500, { errors: [String(e && e.stack ? e.stack : e)] });
      }
    });
  });

  function handle(req, res, body) {
    const url = new URL(req.url, 'http://x');
    let p = url.pathname.replace(/^\/v1\//, '/');
    const m = req.method;
    if (m !== 'GET' && m !== 'HEAD' && !authorized(req)) return send(res, 401, { errors: ['Unauthorized: this needs the UI token (Authorization: Bearer <token>)'] });
    let r;
    if (m === 'GET' && p === '/config')
      return send(res, 200, { 'refresh-interval': 1000, 'timezone-name': 'UTC', 'timezone-offset': 0, 'flink-version': 'weir 0.1.0', 'weir-version': '0.1.0', features: { 'web-submit': upload, 'web-cancel': true, 'web-history': false }, mode: upload ? 'cluster' : 'embedded' });
    if (m === 'GET' && p === '/overview') {
      const all = [...jobs.values()];
      const running = all.filter((j) => !terminal(j.state)).reduce((a, j) => a + Math.max(...j.nodes.map((n) => n.p)), 0);
      return send(res, 200, { taskmanagers: 1, 'slots-total': 8, 'slots-available': Math.max(0, 8 - running), 'jobs-running': all.filter((j) => !terminal(j.state)).length, 'jobs-finished': all.filter((j) => j.state === 'FINISHED').length, 'jobs-cancelled': all.filter((j) => j.state === 'CANCELED').length, 'jobs-failed': all.filter((j) => j.state === 'FAILED').length, 'flink-version': 'weir 0.1.0', 'weir-version': '0.1.0' });
    }
    if (m === 'GET' && p === '/taskmanagers')
      return send(res, 200, { taskmanagers: [{ id: 'worker-1', path: '127.0.0.1', dataPort: 40123, timeSinceLastHeartbeat: 800, slotsNumber: 8, freeSlots: 4, hardware: { cpuCores: 2, physicalMemory: 24 * 2 ** 30, freeMemory: 20 * 2 ** 30, managedMemory: 0 } }] });
    if (m === 'GET' && p === '/jobs') return send(res, 200, { jobs: [...jobs.values()].map((j) => ({ id: j.jid, status: j.state })) });
    if (m === 'GET' && p === '/jobs/overview')
      return send(res, 200, { jobs: [...jobs.values()].map((j) => ({ jid: j.jid, name: j.name, state: j.state, 'start-time': j.start, 'end-time': j.end, duration: (terminal(j.state) ? j.end : Date.now()) - j.start, 'last-modification': j.start, tasks: { total: j.nodes.reduce((a, n) => a + n.p, 0), created: 0, running: j.state === 'RUNNING' ? j.nodes.reduce((a, n) => a + n.p, 0) : 0, finished: 0, canceled: j.state === 'CANCELED' ? j.nodes.reduce((a, n) => a + n.p, 0) : 0, failed: 0, restarting: 0 } })) });
    if ((r = p.match(/^\/jobs\/([^/]+)(\/.*)?$/))) {
      const job = jobs.get(r[1]);
      if (!job) return send(res, 404, { errors: [`Job ${r[1]} not found`] });
      const rest = r[2] ?? '';
      if (m === 'GET' && rest === '') return send(res, 200, jobDetails(job));
      if (m === 'PATCH' && rest === '') {
        if (terminal(job.state)) return send(res, 409, { errors: [`Job ${job.jid} is ${job.state}`] });
        job.state = 'CANCELING';
        logLine(`Job ${job.name} (${job.jid}) switched to CANCELING`);
        setTimeout(() => {
          job.state = 'CANCELED';
          job.end = Date.now();
          logLine(`Job ${job.name} (${job.jid}) switched to CANCELED`);
        }, 500);
        return send(res, 202, {});
      }
      if (m === 'GET' && rest === '/watermarks') return send(res, 200, watermarks(job));
      if (m === 'GET' && rest === '/checkpoints') return send(res, 200, checkpoints(job));
      if (m === 'GET' && rest === '/exceptions')
        return send(res, 200, { 'root-exception': job.exceptions[0]?.stacktrace ?? null, timestamp: job.exceptions[0]?.timestamp ?? null, 'all-exceptions': [], truncated: false, exceptionHistory: { entries: job.exceptions, truncated: false } });
      if (m === 'POST' && rest === '/savepoints') {
        const req = JSON.parse(body.toString() || '{}');
        const id = crypto.randomBytes(8).toString('hex');
        savepoints.set(id, { done: Date.now() + 800, dir: req['target-directory'] });
        return send(res, 202, { 'request-id': id });
      }
      let s;
      if (m === 'GET' && (s = rest.match(/^\/savepoints\/([^/]+)$/))) {
        const sp = savepoints.get(s[1]);
        if (!sp) return send(res, 404, { errors: ['no such savepoint trigger'] });
        if (Date.now() < sp.done) return send(res, 200, { status: { id: 'IN_PROGRESS' } });
        if (!sp.dir) return send(res, 200, { status: { id: 'COMPLETED' }, operation: { 'failure-cause': { class: 'java.lang.IllegalStateException', 'stack-trace': 'No savepoint directory given and none configured' } } });
        return send(res, 200, { status: { id: 'COMPLETED' }, operation: { location: `${sp.dir}/savepoint-${s[1].slice(0, 6)}` } });
      }
      if (m === 'GET' && (s = rest.match(/^\/vertices\/([^/]+)$/))) {
        const i = job.nodes.findIndex((n) => n.id === s[1]);
        if (i < 0) return send(res, 404, { errors: ['no such vertex'] });
        const v = vertexJson(job, job.nodes[i], i);
        return send(res, 200, {
          id: v.id, name: v.name, parallelism: v.parallelism, maxParallelism: 128, now: Date.now(),
          subtasks: Array.from({ length: v.parallelism }, (_, k) => ({
            subtask: k, status: v.status, attempt: 0, host: '127.0.0.1', 'start-time': job.start, 'end-time': job.end, duration: v.duration,
            metrics: Object.fromEntries(Object.entries(v.metrics).map(([a, b]) => [a, typeof b === 'number' ? Math.round(b / v.parallelism) : b])),
            rates: Object.fromEntries(Object.entries(v.rates).map(([a, b]) => [a, Math.round(b / v.parallelism)])),
            'backpressure-level': v['backpressure-level'], 'input-watermark': v.watermark, 'output-watermark': v.watermark,
          })),
        });
      }
      return send(res, 404, { errors: ['Not found: ' + p] });
    }
    if (p.startsWith('/jars')) {
      if (!upload) return send(res, 403, { errors: ['Submission is off: the server has no upload folder'] });
      if (m === 'POST' && p === '/jars/upload') {
        const text = body.toString('latin1');
        const name = (text.match(/name="jarfile"; filename="([^"]+)"/) ?? [])[1];
        if (!name) return send(res, 400, { errors: ['multipart field "jarfile" missing'] });
        const id = `${crypto.randomBytes(4).toString('hex')}_${name}`;
        jars.push({ id, name, uploaded: Date.now() });
        return send(res, 200, { filename: `/tmp/uploads/${id}`, status: 'success' });
      }
      if (m === 'GET' && p === '/jars') return send(res, 200, { address: 'http://127.0.0.1', files: jars });
      let s;
      if (m === 'POST' && (s = p.match(/^\/jars\/([^/]+)\/run$/))) {
        const jar = jars.find((j) => j.id === decodeURIComponent(s[1]));
        if (!jar) return send(res, 404, { errors: ['no such file'] });
        const req = JSON.parse(body.toString() || '{}');
        if (jar.name.includes('failing')) {
          const job = makeJob('failing job', 'slow', req.parallelism ?? 1);
          setTimeout(() => {
            job.state = 'FAILED';
            job.end = Date.now();
            job.exceptions.push({
              exceptionName: 'weir.PythonException', timestamp: Date.now(), taskName: 'Sequence Source -> check (1/1)', location: '127.0.0.1',
              stacktrace: 'Traceback (most recent call last):\n  File "failing_job.py", line 12, in check\n    raise ValueError("record 50 is not welcome here")\nValueError: record 50 is not welcome here\n',
            });
          }, 1000);
          return send(res, 200, { jobid: job.jid });
        }
        const job = makeJob(jar.name.includes('stuck') ? 'stuck watermark' : 'slow counts', jar.name.includes('stuck') ? 'stuck' : 'slow', req.parallelism ?? 2);
        return send(res, 200, { jobid: job.jid });
      }
      if (m === 'DELETE' && (s = p.match(/^\/jars\/([^/]+)$/))) {
        const i = jars.findIndex((j) => j.id === decodeURIComponent(s[1]));
        if (i >= 0) jars.splice(i, 1);
        return send(res, 200, {});
      }
    }
    if (m === 'GET' && p === '/jobmanager/log') return send(res, 200, logLines.join('\n') + '\n', 'text/plain');
    if (m !== 'GET') return send(res, 404, { errors: ['Not found: ' + p] });
    // Static files, unknown paths fall back to index.html.
    let file = path.normalize(path.join(root, p));
    if (!file.startsWith(path.normalize(root)) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(root, 'index.html');
    const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };
    return send(res, 200, fs.readFileSync(file), types[path.extname(file)] ?? 'application/octet-stream');
  }

  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      if (log) process.stderr.write(`Weir UI: ${url}#token=${token}\n`);
      resolve({
        url,
        token,
        started,
        close: () => new Promise((done) => { clearInterval(ticker); server.closeAllConnections?.(); server.close(() => done()); }),
      });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  startFixtureServer({ port: Number(opt('--port') ?? 0), upload: args.includes('--upload'), root: opt('--root') ?? undefined });
}
