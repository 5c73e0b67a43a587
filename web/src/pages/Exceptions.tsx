import { usePoll } from '../api';
import { Card, ErrorLine, Loading } from '../components';
import { fmtTime } from '../format';
import type { Exceptions } from '../types';

export function ExceptionsView({ jid }: { jid: string }) {
  const ex = usePoll<Exceptions>(`jobs/${encodeURIComponent(jid)}/exceptions`);
  if (!ex.data) return ex.error ? <ErrorLine error={ex.error} /> : <Loading />;
  const entries = ex.data.exceptionHistory?.entries ?? [];
  return (
    <div data-testid="exceptions">
      <ErrorLine error={ex.error} />
      <Card title="Root cause" testid="root-exception">
        {ex.data['root-exception'] ? (
          <>
            <div className="muted small">{fmtTime(ex.data.timestamp)}</div>
            <pre className="trace">{ex.data['root-exception']}</pre>
          </>
        ) : (
          <div className="muted">No failure.</div>
        )}
      </Card>
      <Card title={`History (${entries.length}${ex.data.exceptionHistory?.truncated ? ', truncated' : ''})`}>
        {entries.length === 0 && <div className="muted">None.</div>}
        {entries.map((e, i) => (
          <details key={i} open={i === 0} className="exception" data-testid="exception-entry">
            <summary>
              <b>{e.exceptionName}</b> <span className="muted small">{fmtTime(e.timestamp)}</span>{' '}
              {e.taskName && <span className="small">in {e.taskName}</span>}{' '}
              {e.location && <span className="small mono">@ {e.location}</span>}
            </summary>
            <pre className="trace">{e.stacktrace}</pre>
          </details>
        ))}
      </Card>
    </div>
  );
}
