import { useState } from 'react';
import { change, usePoll } from '../api';
import { navigate } from '../App';
import { Card, ErrorLine, Loading } from '../components';
import { fmtTime } from '../format';
import type { Config, JarList } from '../types';

/** Splits an argument line like a shell does for plain words and quotes ('a b' "c d"). */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) {
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2] : m[3]);
  }
  return out;
}

export function SubmitPage({ config }: { config: Config | null }) {
  const enabled = config?.features?.['web-submit'] === true;
  const jars = usePoll<JarList>(enabled ? 'jars' : null, 2000);
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [args, setArgs] = useState('');
  const [parallelism, setParallelism] = useState('');

  if (!config) return <Loading />;
  if (!enabled) {
    return (
      <div data-testid="submit-page">
        <h2>Submit a job</h2>
        <div className="notice" data-testid="submit-disabled">
          Submitting from the browser is off on this server. It is on when the server has an upload folder:
          start it with <code>weir run --workers N --ui HOST:PORT --web-upload-dir DIR job.py</code> (or the
          coordinator's <code>--web-upload-dir</code>). Otherwise submit from a shell with{' '}
          <code>weir submit job.py</code>.
        </div>
      </div>
    );
  }

  const upload = async () => {
    if (!file) return;
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      const form = new FormData();
      form.append('jarfile', file, file.name);
      const res = await change<{ filename: string; status: string }>('POST', 'jars/upload', form);
      setMessage(`Uploaded ${file.name}`);
      const stored = res.filename?.split('/').pop();
      if (stored) setSelected(stored);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const run = async (id: string) => {
    setBusy(true);
    setError(null);
    try {
      const body: { programArgsList: string[]; parallelism?: number } = { programArgsList: splitArgs(args) };
      const p = parseInt(parallelism, 10);
      if (!Number.isNaN(p) && p > 0) body.parallelism = p;
      const res = await change<{ jobid: string }>('POST', `jars/${encodeURIComponent(id)}/run`, body);
      navigate(`/jobs/${encodeURIComponent(res.jobid)}`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (id: string) => {
    setError(null);
    try {
      await change('DELETE', `jars/${encodeURIComponent(id)}`);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const files = jars.data?.files ?? [];
  const chosen = files.find((f) => f.id === selected) ?? null;
  return (
    <div data-testid="submit-page">
      <h2>Submit a job</h2>
      <ErrorLine error={error ?? jars.error} />
      {message && <div className="ok-line">{message}</div>}
      <Card title="Upload a .py job or an executable that links Weir">
        <div className="row">
          <input
            type="file"
            data-testid="upload-input"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
          <button data-testid="upload-button" disabled={!file || busy} onClick={upload}>
            Upload
          </button>
        </div>
      </Card>
      <Card title="Uploaded files">
        {files.length === 0 ? (
          <div className="muted">Nothing uploaded yet.</div>
        ) : (
          <table>
            <thead>
              <tr>
                <th />
                <th>name</th>
                <th>uploaded</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {files.map((f) => (
                <tr
                  key={f.id}
                  data-testid="jar-row"
                  data-jar-id={f.id}
                  className={f.id === selected ? 'selected' : ''}
                  onClick={() => setSelected(f.id)}
                >
                  <td>
                    <input type="radio" readOnly checked={f.id === selected} />
                  </td>
                  <td className="mono">{f.name}</td>
                  <td>{fmtTime(f.uploaded)}</td>
                  <td>
                    <button className="link small" onClick={(e) => { e.stopPropagation(); remove(f.id); }}>
                      delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Run">
        <div className="form">
          <label>
            file <span className="mono">{chosen ? chosen.name : '(choose one above)'}</span>
          </label>
          <label>
            arguments{' '}
            <input
              data-testid="run-args"
              className="wide"
              value={args}
              placeholder="--input /data/x.csv --rate 100"
              onChange={(e) => setArgs(e.target.value)}
            />
          </label>
          <label>
            parallelism{' '}
            <input
              data-testid="run-parallelism"
              type="number"
              min={1}
              value={parallelism}
              placeholder="job's default"
              onChange={(e) => setParallelism(e.target.value)}
            />
          </label>
          <button data-testid="run-button" disabled={!chosen || busy} onClick={() => chosen && run(chosen.id)}>
            Run
          </button>
        </div>
      </Card>
    </div>
  );
}
