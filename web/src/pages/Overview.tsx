import { usePoll } from '../api';
import { Card, ErrorLine, Loading, Stat, StateBadge } from '../components';
import { fmtBytes, fmtDuration } from '../format';
import type { JobOverviewEntry, Overview, TaskManager } from '../types';

export function OverviewPage() {
  const ov = usePoll<Overview>('overview');
  const tms = usePoll<{ taskmanagers: TaskManager[] }>('taskmanagers');
  const jobs = usePoll<{ jobs: JobOverviewEntry[] }>('jobs/overview');
  const byState = new Map<string, number>();
  for (const j of jobs.data?.jobs ?? []) byState.set(j.state, (byState.get(j.state) ?? 0) + 1);
  const o = ov.data;
  return (
    <div data-testid="overview-page">
      <h2>Cluster overview</h2>
      <ErrorLine error={ov.error ?? tms.error ?? jobs.error} />
      {!o ? (
        <Loading />
      ) : (
        <div className="stats">
          <Stat label="workers" value={o.taskmanagers} testid="stat-taskmanagers" />
          <Stat label="slots free / total" value={`${o['slots-available']} / ${o['slots-total']}`} testid="stat-slots" />
          <Stat label="running jobs" value={o['jobs-running']} testid="stat-running" />
          <Stat label="finished" value={o['jobs-finished']} testid="stat-finished" />
          <Stat label="canceled" value={o['jobs-cancelled']} testid="stat-canceled" />
          <Stat label="failed" value={o['jobs-failed']} testid="stat-failed" />
        </div>
      )}
      <Card title="Jobs by state" testid="jobs-by-state">
        {byState.size === 0 ? (
          <div className="muted">No jobs yet.</div>
        ) : (
          <div className="row wrap">
            {[...byState.entries()].map(([s, n]) => (
              <span key={s} className="state-count">
                <StateBadge state={s} testid={`state-count-${s}`} /> {n}
              </span>
            ))}
          </div>
        )}
      </Card>
      <Card title="Workers (task managers)" testid="taskmanagers">
        <table>
          <thead>
            <tr>
              <th>id</th>
              <th>address</th>
              <th>slots</th>
              <th>free slots</th>
              <th>CPU cores</th>
              <th>memory</th>
              <th>last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {(tms.data?.taskmanagers ?? []).map((t) => (
              <tr key={t.id} data-testid="taskmanager-row">
                <td className="mono">{t.id}</td>
                <td className="mono">{t.path ?? ''}{t.dataPort && t.dataPort > 0 ? `:${t.dataPort}` : ''}</td>
                <td>{t.slotsNumber}</td>
                <td>{t.freeSlots}</td>
                <td>{t.hardware?.cpuCores ?? '–'}</td>
                <td>{fmtBytes(t.hardware?.physicalMemory)}</td>
                <td>{t.timeSinceLastHeartbeat !== undefined ? fmtDuration(t.timeSinceLastHeartbeat) + ' ago' : '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
