import { usePoll } from '../api';
import { Card, ErrorLine, Loading, Stat } from '../components';
import { fmtBytes, fmtDuration, fmtTime } from '../format';
import type { CheckpointEntry, Checkpoints } from '../types';

/** Bars per checkpoint (oldest left), one chart per measure. */
function BarChart({
  entries,
  value,
  format,
  color,
  title,
  testid,
}: {
  entries: CheckpointEntry[];
  value: (e: CheckpointEntry) => number;
  format: (n: number) => string;
  color: string;
  title: string;
  testid: string;
}) {
  const W = 520;
  const H = 150;
  const left = 70;
  const bottom = 22;
  const top = 10;
  const max = Math.max(1, ...entries.map(value));
  const n = Math.max(entries.length, 1);
  const slot = (W - left - 8) / n;
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const y = (v: number) => top + (H - top - bottom) * (1 - v / max);
  const labelEvery = Math.ceil(n / 12);
  return (
    <figure className="chart" data-testid={testid}>
      <figcaption>{title}</figcaption>
      <svg width={W} height={H} role="img" aria-label={title}>
        <line x1={left} y1={top} x2={left} y2={H - bottom} stroke="#99a" />
        <line x1={left} y1={H - bottom} x2={W} y2={H - bottom} stroke="#99a" />
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <text x={left - 6} y={y(max * f) + 4} textAnchor="end" className="axis">
              {format(max * f)}
            </text>
            <line x1={left} x2={W} y1={y(max * f)} y2={y(max * f)} stroke="#e3e6ea" />
          </g>
        ))}
        {entries.map((e, i) => {
          const v = value(e);
          const x = left + 4 + i * slot + (slot - barW) / 2;
          return (
            <g key={e.id}>
              <rect
                x={x}
                y={y(v)}
                width={barW}
                height={Math.max(0, H - bottom - y(v))}
                fill={e.status === 'FAILED' ? '#d9534f' : e.status === 'IN_PROGRESS' ? '#b9c2cf' : color}
              >
                <title>{`#${e.id} ${e.status}: ${format(v)}`}</title>
              </rect>
              {i % labelEvery === 0 && (
                <text x={x + barW / 2} y={H - 6} textAnchor="middle" className="axis">
                  {e.id}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

function Latest({ label, e }: { label: string; e: CheckpointEntry | null }) {
  return (
    <tr>
      <th>{label}</th>
      {e ? (
        <>
          <td>#{e.id}</td>
          <td>{fmtTime(e.latest_ack_timestamp ?? e.trigger_timestamp)}</td>
          <td>{fmtDuration(e.end_to_end_duration)}</td>
          <td>{fmtBytes(e.state_size)}</td>
          <td className="mono small">{e.external_path ?? e.failure_message ?? ''}</td>
        </>
      ) : (
        <td colSpan={5} className="muted">
          none
        </td>
      )}
    </tr>
  );
}

export function CheckpointsView({ jid }: { jid: string }) {
  const cp = usePoll<Checkpoints>(`jobs/${encodeURIComponent(jid)}/checkpoints`);
  if (!cp.data) return cp.error ? <ErrorLine error={cp.error} /> : <Loading />;
  const d = cp.data;
  const history = [...(d.history ?? [])].sort((a, b) => a.id - b.id).slice(-40);
  return (
    <div data-testid="checkpoints">
      <ErrorLine error={cp.error} />
      <div className="stats">
        <Stat label="triggered" value={d.counts.total} testid="cp-total" />
        <Stat label="in progress" value={d.counts.in_progress} />
        <Stat label="completed" value={d.counts.completed} testid="cp-completed" />
        <Stat label="failed" value={d.counts.failed} testid="cp-failed" />
        <Stat label="restored" value={d.counts.restored} />
      </div>
      <Card title="Latest">
        <table className="latest">
          <tbody>
            <Latest label="completed" e={d.latest.completed} />
            <Latest label="savepoint" e={d.latest.savepoint} />
            <Latest label="failed" e={d.latest.failed} />
            <tr>
              <th>restored</th>
              {d.latest.restored ? (
                <td colSpan={5}>
                  #{d.latest.restored.id} {d.latest.restored.is_savepoint ? '(savepoint)' : ''} at{' '}
                  {fmtTime(d.latest.restored.restore_timestamp)}{' '}
                  <span className="mono small">{d.latest.restored.external_path}</span>
                </td>
              ) : (
                <td colSpan={5} className="muted">
                  none
                </td>
              )}
            </tr>
          </tbody>
        </table>
      </Card>
      {history.length > 0 && (
        <div className="row wrap">
          <BarChart
            entries={history}
            value={(e) => e.end_to_end_duration ?? 0}
            format={(n) => fmtDuration(n)}
            color="#4a7bd0"
            title="Duration per checkpoint"
            testid="cp-chart-duration"
          />
          <BarChart
            entries={history}
            value={(e) => e.state_size ?? 0}
            format={(n) => fmtBytes(n)}
            color="#3a9d6a"
            title="State size per checkpoint"
            testid="cp-chart-size"
          />
        </div>
      )}
      <Card title="History (newest first)">
        <table data-testid="cp-history">
          <thead>
            <tr>
              <th>id</th>
              <th>status</th>
              <th>kind</th>
              <th>triggered</th>
              <th>duration</th>
              <th>alignment</th>
              <th>state size</th>
              <th>acknowledged</th>
              <th>path / failure</th>
            </tr>
          </thead>
          <tbody>
            {(d.history ?? []).map((e) => (
              <tr key={e.id} data-testid="cp-row" className={`cp-${e.status.toLowerCase()}`}>
                <td>{e.id}</td>
                <td>{e.status}</td>
                <td>{e.is_savepoint ? 'savepoint' : 'checkpoint'}</td>
                <td>{fmtTime(e.trigger_timestamp)}</td>
                <td>{fmtDuration(e.end_to_end_duration)}</td>
                <td>{fmtDuration(e.alignment_duration)}</td>
                <td>{fmtBytes(e.state_size)}</td>
                <td>
                  {e.num_acknowledged_subtasks ?? '–'}/{e.num_subtasks ?? '–'}
                </td>
                <td className="mono small">{e.failure_message ?? e.external_path ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
