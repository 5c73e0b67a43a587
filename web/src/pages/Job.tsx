import { useEffect, useState } from 'react';
import { change, get, usePoll } from '../api';
import { ErrorLine, Loading, StateBadge } from '../components';
import { fmtDuration, fmtTime } from '../format';
import { TERMINAL_STATES, type JobDetails } from '../types';
import { JobGraph } from './JobGraph';
import { SubtasksTable } from './Subtasks';
import { WatermarksView } from './Watermarks';
import { CheckpointsView } from './Checkpoints';
import { ExceptionsView } from './Exceptions';

const TABS: [string, string][] = [
  ['graph', 'Graph'],
  ['watermarks', 'Watermarks'],
  ['checkpoints', 'Checkpoints'],
  ['exceptions', 'Exceptions'],
];

interface SavepointStatus {
  status: { id: 'IN_PROGRESS' | 'COMPLETED' | string };
  operation?: { location?: string; 'failure-cause'?: { class?: string; 'stack-trace'?: string } };
}

function SavepointControl({ jid, running }: { jid: string; running: boolean }) {
  const [dir, setDir] = useState('');
  const [trigger, setTrigger] = useState<string | null>(null);
  const [state, setState] = useState<{ kind: 'idle' | 'pending' | 'done' | 'failed'; text: string }>({
    kind: 'idle',
    text: '',
  });
  useEffect(() => {
    if (!trigger) return;
    let stopped = false;
    let timer: number | undefined;
    const poll = async () => {
      try {
        const s = await get<SavepointStatus>(`jobs/${encodeURIComponent(jid)}/savepoints/${encodeURIComponent(trigger)}`);
        if (stopped) return;
        if (s.status.id === 'COMPLETED') {
          const cause = s.operation?.['failure-cause'];
          if (cause) setState({ kind: 'failed', text: `Savepoint failed: ${cause['stack-trace'] ?? cause.class ?? ''}` });
          else setState({ kind: 'done', text: `Savepoint written: ${s.operation?.location ?? '(no location)'}` });
          return;
        }
        setState({ kind: 'pending', text: 'Savepoint in progress…' });
      } catch (e) {
        if (stopped) return;
        setState({ kind: 'failed', text: `Savepoint status: ${(e as Error).message}` });
        return;
      }
      timer = window.setTimeout(poll, 500);
    };
    poll();
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [jid, trigger]);
  const start = async () => {
    setState({ kind: 'pending', text: 'Triggering a savepoint…' });
    try {
      const body: Record<string, unknown> = { 'cancel-job': false };
      if (dir.trim()) body['target-directory'] = dir.trim();
      const r = await change<{ 'request-id': string }>('POST', `jobs/${encodeURIComponent(jid)}/savepoints`, body);
      setTrigger(r['request-id']);
    } catch (e) {
      setState({ kind: 'failed', text: `Savepoint: ${(e as Error).message}` });
    }
  };
  return (
    <span className="savepoint">
      <input
        data-testid="savepoint-dir"
        placeholder="savepoint folder (server side)"
        value={dir}
        onChange={(e) => setDir(e.target.value)}
      />
      <button data-testid="savepoint-button" disabled={!running || state.kind === 'pending'} onClick={start}>
        Savepoint
      </button>
      {state.text && (
        <span className={`sp-status sp-${state.kind}`} data-testid="savepoint-status">
          {state.text}
        </span>
      )}
    </span>
  );
}

export function JobPage({ jid, tab }: { jid: string; tab: string }) {
  const job = usePoll<JobDetails>(`jobs/${encodeURIComponent(jid)}`);
  const [vertex, setVertex] = useState<string | null>(null);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const [canceling, setCanceling] = useState(false);
  const j = job.data;
  const terminal = j ? TERMINAL_STATES.includes(j.state) : false;
  const cancel = async () => {
    if (!window.confirm(`Cancel job ${j?.name ?? jid}?`)) return;
    setCanceling(true);
    setCancelError(null);
    try {
      await change('PATCH', `jobs/${encodeURIComponent(jid)}?mode=cancel`);
    } catch (e) {
      setCancelError((e as Error).message);
      setCanceling(false);
    }
  };
  return (
    <div data-testid="job-page">
      <div className="job-head">
        <h2 data-testid="job-name">{j?.name ?? jid}</h2>
        {j && <StateBadge state={j.state} />}
        <span className="spacer" />
        {j && (
          <>
            <SavepointControl jid={jid} running={j.state === 'RUNNING'} />
            <button
              className="danger"
              data-testid="cancel-button"
              disabled={terminal || canceling || j.state === 'CANCELING'}
              onClick={cancel}
            >
              Cancel
            </button>
          </>
        )}
      </div>
      {j && (
        <div className="muted small job-times">
          id <span className="mono">{j.jid}</span> · started {fmtTime(j['start-time'])}
          {j['end-time'] > 0 ? ` · ended ${fmtTime(j['end-time'])}` : ''} · duration {fmtDuration(j.duration)}
        </div>
      )}
      <ErrorLine error={cancelError ?? job.error} />
      <nav className="tabs">
        {TABS.map(([t, label]) => (
          <a
            key={t}
            href={`#/jobs/${encodeURIComponent(jid)}/${t}`}
            className={tab === t ? 'active' : ''}
            data-testid={`tab-${t}`}
          >
            {label}
          </a>
        ))}
      </nav>
      {tab === 'graph' &&
        (!j ? (
          <Loading />
        ) : (
          <>
            <JobGraph job={j} selected={vertex} onSelect={setVertex} />
            {vertex && j.vertices.some((v) => v.id === vertex) && (
              <SubtasksTable jid={jid} vid={vertex} name={j.vertices.find((v) => v.id === vertex)!.name} />
            )}
            {!vertex && <div className="muted small">Click a vertex for its subtasks.</div>}
          </>
        ))}
      {tab === 'watermarks' && <WatermarksView jid={jid} />}
      {tab === 'checkpoints' && <CheckpointsView jid={jid} />}
      {tab === 'exceptions' && <ExceptionsView jid={jid} />}
    </div>
  );
}
