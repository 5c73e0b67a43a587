import { usePoll } from '../api';
import { Card, ErrorLine, Loading } from '../components';
import { fmtDuration, fmtWatermark } from '../format';
import type { JobWatermarks, WatermarkInput, WatermarkSubtask } from '../types';

function isNone(w: number | null | undefined): boolean {
  return w === null || w === undefined || w <= -9e15;
}

function holdingInput(s: WatermarkSubtask): WatermarkInput | null {
  const flagged = s.inputs.find((i) => i.holding);
  if (flagged) return flagged;
  if (s['holding-input'] !== null && s['holding-input'] !== undefined)
    return s.inputs.find((i) => i.index === s['holding-input']) ?? s.inputs[s['holding-input']] ?? null;
  return null;
}

function inputLabel(i: WatermarkInput): string {
  return `${i['upstream-name']} #${i['upstream-subtask']}`;
}

function InputCell({ input, holding }: { input: WatermarkInput; holding: boolean }) {
  const cls = ['wm-input', holding ? 'holding' : '', input.idle ? 'idle' : '', input.ended ? 'ended' : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div
      className={cls}
      data-testid={holding ? 'holding-input' : 'wm-input'}
      data-upstream={input['upstream-name']}
      data-upstream-subtask={input['upstream-subtask']}
    >
      <span className="wm-input-name" title={`input channel ${input.index}`}>
        {holding ? <span className="holding-text">held back by {inputLabel(input)}</span> : inputLabel(input)}
      </span>
      {': '}
      <span className="wm-input-value">
        {input.ended
          ? 'ended'
          : input.idle
            ? 'idle'
            : holding && isNone(input.watermark)
              ? 'no watermark from it yet'
              : fmtWatermark(input.watermark)}
      </span>
    </div>
  );
}

export function WatermarksView({ jid }: { jid: string }) {
  const wm = usePoll<JobWatermarks>(`jobs/${encodeURIComponent(jid)}/watermarks`);
  if (!wm.data) return wm.error ? <ErrorLine error={wm.error} /> : <Loading />;
  const now = wm.data.now;
  // The stuck points: subtasks whose input watermark is held back by an input, where that input
  // is itself a source subtask or a subtask not held back further (the root of the chain).
  const held: { vertex: string; subtask: number; input: WatermarkInput; lag: number | null }[] = [];
  for (const v of wm.data.vertices)
    for (const s of v.subtasks) {
      const h = holdingInput(s);
      if (h) held.push({ vertex: v.name, subtask: s.subtask, input: h, lag: s['lag-ms'] });
    }
  const worst = [...held].sort((a, b) => (b.lag ?? Infinity) - (a.lag ?? Infinity))[0];
  return (
    <div data-testid="watermarks">
      <ErrorLine error={wm.error} />
      <div className="muted small">
        Wall clock {fmtWatermark(now)}. Lag = wall clock − input watermark. An operator's input watermark is the
        minimum over its non-idle inputs; the input at that minimum is highlighted.
      </div>
      {worst && (
        <div className="notice" data-testid="watermark-summary">
          {worst.vertex} #{worst.subtask}: watermark {worst.lag !== null ? `${fmtDuration(worst.lag)} behind` : 'not started'}, held back by{' '}
          <b>{inputLabel(worst.input)}</b>
          {isNone(worst.input.watermark)
            ? ', which has sent no watermark yet (an input that never emits and has no idleness configured keeps every downstream watermark from advancing; configure idleness on the source: with_idleness)'
            : `, at ${fmtWatermark(worst.input.watermark)}`}
          .
        </div>
      )}
      {wm.data.vertices.map((v) => (
        <Card key={v.id} title={v.name} testid="watermark-vertex">
          <table>
            <thead>
              <tr>
                <th>subtask</th>
                <th>input watermark</th>
                <th>output watermark</th>
                <th>lag (event time vs wall clock)</th>
                <th>inputs</th>
              </tr>
            </thead>
            <tbody>
              {v.subtasks.map((s) => {
                const h = holdingInput(s);
                return (
                  <tr
                    key={s.subtask}
                    data-testid="watermark-row"
                    data-vertex={v.name}
                    data-subtask={s.subtask}
                    className={h ? 'held' : ''}
                  >
                    <td title={`${v.name} #${s.subtask}`}>#{s.subtask}</td>
                    <td>{s.inputs.length === 0 ? '(source)' : fmtWatermark(s['input-watermark'])}</td>
                    <td>{fmtWatermark(s['output-watermark'])}</td>
                    <td className={s['lag-ms'] !== null && s['lag-ms'] > 10000 ? 'lag-bad' : ''}>
                      {s['lag-ms'] !== null ? fmtDuration(s['lag-ms']) : '–'}
                    </td>
                    <td>
                      {s.inputs.length === 0 ? (
                        <span className="muted small">a source: its watermark is what it emits</span>
                      ) : (
                        s.inputs.map((i) => <InputCell key={i.index} input={i} holding={h === i} />)
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Card>
      ))}
    </div>
  );
}
