import { usePoll } from '../api';
import { Card, ErrorLine, Loading } from '../components';
import { fmtBytes, fmtNum, fmtRate, fmtWatermark } from '../format';
import type { VertexDetails } from '../types';

export function SubtasksTable({ jid, vid, name }: { jid: string; vid: string; name: string }) {
  const d = usePoll<VertexDetails>(`jobs/${encodeURIComponent(jid)}/vertices/${encodeURIComponent(vid)}`);
  return (
    <Card title={`Subtasks of ${name}`} testid="subtasks">
      <ErrorLine error={d.error} />
      {!d.data ? (
        <Loading />
      ) : (
        <div className="scroll-x">
          <table>
            <thead>
              <tr>
                <th>#</th>
                <th>status</th>
                <th>host</th>
                <th>records in</th>
                <th>records out</th>
                <th>in/s</th>
                <th>out/s</th>
                <th>bytes in</th>
                <th>bytes out</th>
                <th title="ms per second">busy</th>
                <th title="ms per second">idle</th>
                <th title="ms per second">backpressured</th>
                <th>input watermark</th>
                <th>output watermark</th>
              </tr>
            </thead>
            <tbody>
              {d.data.subtasks.map((s) => (
                <tr key={s.subtask} data-testid="subtask-row" className={`bp-row-${s['backpressure-level'] ?? 'ok'}`}>
                  <td>{s.subtask}</td>
                  <td>{s.status}</td>
                  <td className="mono small">{s.host ?? ''}</td>
                  <td>{fmtNum(s.metrics?.['read-records'])}</td>
                  <td>{fmtNum(s.metrics?.['write-records'])}</td>
                  <td>{fmtRate(s.rates?.['records-in-per-second'])}</td>
                  <td>{fmtRate(s.rates?.['records-out-per-second'])}</td>
                  <td>{fmtBytes(s.metrics?.['read-bytes'])}</td>
                  <td>{fmtBytes(s.metrics?.['write-bytes'])}</td>
                  <td>{fmtNum(s.rates?.['busy-ms-per-second'])} ms</td>
                  <td>{fmtNum(s.rates?.['idle-ms-per-second'])} ms</td>
                  <td className={`bp-text-${s['backpressure-level'] ?? 'ok'}`}>
                    {fmtNum(s.rates?.['backpressured-ms-per-second'])} ms
                  </td>
                  <td className="small">{fmtWatermark(s['input-watermark'])}</td>
                  <td className="small">{fmtWatermark(s['output-watermark'])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
