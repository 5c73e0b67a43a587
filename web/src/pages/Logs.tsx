import { useEffect, useRef, useState } from 'react';
import { usePoll } from '../api';
import { ErrorLine } from '../components';

export function LogsPage() {
  const log = usePoll<string>('jobmanager/log', 1000, true);
  const [follow, setFollow] = useState(true);
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [log.data, follow]);
  return (
    <div data-testid="logs-page">
      <div className="row">
        <h2>Log</h2>
        <span className="spacer" />
        <label className="small">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow the end
        </label>
      </div>
      <ErrorLine error={log.error} />
      <pre className="log" ref={pre} data-testid="log">
        {log.data ?? ''}
      </pre>
    </div>
  );
}
