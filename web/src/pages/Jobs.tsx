import { usePoll } from '../api';
import { ErrorLine, Loading, StateBadge } from '../components';
import { fmtDuration, fmtTime } from '../format';
import { TERMINAL_STATES, type JobOverviewEntry } from '../types';

function JobTable({ jobs, testid }: { jobs: JobOverviewEntry[]; testid: string }) {
  if (jobs.length === 0) return <div className="muted">None.</div>;
  return (
    <table data-testid={testid}>
      <thead>
        <tr>
          <th>name</th>
          <th>state</th>
          <th>started</th>
          <th>duration</th>
          <th>tasks</th>
          <th>id</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((j) => (
          <tr key={j.jid} data-testid="job-row" data-jid={j.jid}>
            <td>
              <a href={`#/jobs/${encodeURIComponent(j.jid)}`} data-testid="job-link">
                {j.name}
              </a>
            </td>
            <td>
              <StateBadge state={j.state} />
            </td>
            <td>{fmtTime(j['start-time'])}</td>
            <td>{fmtDuration(j.duration)}</td>
            <td className="small">
              {j.tasks
                ? Object.entries(j.tasks)
                    .filter(([k, v]) => k !== 'total' && v > 0)
                    .map(([k, v]) => `${v} ${k}`)
                    .join(', ') || `${j.tasks.total ?? 0}`
                : ''}
            </td>
            <td className="mono small">{j.jid}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function JobsPage() {
  const jobs = usePoll<{ jobs: JobOverviewEntry[] }>('jobs/overview');
  const all = [...(jobs.data?.jobs ?? [])].sort((a, b) => b['start-time'] - a['start-time']);
  const running = all.filter((j) => !TERMINAL_STATES.includes(j.state));
  const done = all.filter((j) => TERMINAL_STATES.includes(j.state));
  return (
    <div data-testid="jobs-page">
      <h2>Running jobs</h2>
      <ErrorLine error={jobs.error} />
      {!jobs.data ? <Loading /> : <JobTable jobs={running} testid="running-jobs" />}
      <h2>Finished jobs</h2>
      {!jobs.data ? <Loading /> : <JobTable jobs={done} testid="finished-jobs" />}
    </div>
  );
}
