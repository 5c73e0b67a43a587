import { fmtRate, fmtWatermark } from '../format';
import type { JobDetails, PlanNode, Vertex } from '../types';

const BOX_W = 230;
const BOX_H = 104;
const GAP_X = 90;
const GAP_Y = 28;
const PAD = 16;

interface Placed {
  node: PlanNode;
  vertex: Vertex | undefined;
  x: number;
  y: number;
}

/** A simple layered layout: a vertex's column is the longest path from a source to it; within a
 *  column vertices keep the order their upstreams have (the mean row of their inputs). */
export function layout(nodes: PlanNode[]): { placed: Map<string, Placed>; width: number; height: number } {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle (iterations): cut it
    visiting.add(id);
    const n = byId.get(id);
    let d = 0;
    for (const inp of n?.inputs ?? []) if (byId.has(inp.id)) d = Math.max(d, depth(inp.id) + 1);
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  nodes.forEach((n) => depth(n.id));
  const columns: PlanNode[][] = [];
  for (const n of nodes) {
    const l = layer.get(n.id)!;
    (columns[l] ??= []).push(n);
  }
  const row = new Map<string, number>();
  columns.forEach((col, ci) => {
    if (ci > 0) {
      const key = (n: PlanNode) => {
        const rows = (n.inputs ?? []).map((i) => row.get(i.id)).filter((r): r is number => r !== undefined);
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
      };
      col.sort((a, b) => key(a) - key(b));
    }
    col.forEach((n, i) => row.set(n.id, i));
  });
  const maxRows = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const height = PAD * 2 + maxRows * BOX_H + (maxRows - 1) * GAP_Y;
  const placed = new Map<string, Placed>();
  columns.forEach((col, ci) => {
    const colHeight = col.length * BOX_H + (col.length - 1) * GAP_Y;
    const top = (height - colHeight) / 2;
    col.forEach((n, i) => {
      placed.set(n.id, { node: n, vertex: undefined, x: PAD + ci * (BOX_W + GAP_X), y: top + i * (BOX_H + GAP_Y) });
    });
  });
  const width = PAD * 2 + columns.length * BOX_W + Math.max(0, columns.length - 1) * GAP_X;
  return { placed, width, height };
}

/** A watermark as a time of day (the full date is in the title). */
function shortWatermark(w: number | null | undefined): string {
  const full = fmtWatermark(w);
  return /^\d{4}-/.test(full) ? full.slice(11) : full === 'none yet' ? '–' : 'MAX';
}

/** Nodes from the plan, or (no plan) from the vertices in a chain. */
function planNodes(job: JobDetails): PlanNode[] {
  if (job.plan?.nodes?.length) return job.plan.nodes;
  return job.vertices.map((v, i) => ({
    id: v.id,
    parallelism: v.parallelism,
    description: v.name,
    inputs: i > 0 ? [{ num: 0, id: job.vertices[i - 1].id }] : [],
  }));
}

export function JobGraph({
  job,
  selected,
  onSelect,
}: {
  job: JobDetails;
  selected: string | null;
  onSelect: (vid: string | null) => void;
}) {
  const nodes = planNodes(job);
  const { placed, width, height } = layout(nodes);
  const vertices = new Map(job.vertices.map((v) => [v.id, v]));
  const edges: { from: Placed; to: Placed; label: string; key: string }[] = [];
  for (const p of placed.values()) {
    for (const inp of p.node.inputs ?? []) {
      const from = placed.get(inp.id);
      if (from) edges.push({ from, to: p, label: inp.ship_strategy ?? '', key: `${inp.id}->${p.node.id}:${inp.num}` });
    }
  }
  return (
    <div className="graph-wrap" data-testid="job-graph">
      <div className="graph" style={{ width, height }}>
        <svg width={width} height={height} className="edges">
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" fill="#7a8699" />
            </marker>
          </defs>
          {edges.map((e) => {
            const x1 = e.from.x + BOX_W;
            const y1 = e.from.y + BOX_H / 2;
            const x2 = e.to.x;
            const y2 = e.to.y + BOX_H / 2;
            const mx = (x1 + x2) / 2;
            const path =
              x2 > x1
                ? `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2 - 2} ${y2}`
                : `M ${x1} ${y1} C ${x1 + 60} ${y1 - 80}, ${x2 - 60} ${y2 - 80}, ${x2 - 2} ${y2}`;
            return (
              <g key={e.key} data-testid="graph-edge">
                <path d={path} fill="none" stroke="#7a8699" strokeWidth={1.6} markerEnd="url(#arrow)" />
                {e.label && (
                  <text x={mx} y={(y1 + y2) / 2 - 6} textAnchor="middle" className="edge-label">
                    {e.label}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
        {[...placed.values()].map((p) => {
          const v = vertices.get(p.node.id);
          const level = v?.['backpressure-level'] ?? 'ok';
          const name = v?.name ?? p.node.description ?? p.node.operator ?? p.node.id;
          return (
            <div
              key={p.node.id}
              className={`vertex bp-${level} ${selected === p.node.id ? 'selected' : ''}`}
              style={{ left: p.x, top: p.y, width: BOX_W, height: BOX_H }}
              data-testid="vertex"
              data-vid={p.node.id}
              data-name={name}
              data-backpressure={level}
              title={`${name}\nbackpressure: ${level}\nstatus: ${v?.status ?? ''}`}
              onClick={() => onSelect(selected === p.node.id ? null : p.node.id)}
            >
              <div className="vertex-name">{name}</div>
              <div className="vertex-line">
                <span data-testid="vertex-parallelism">parallelism {v?.parallelism ?? p.node.parallelism}</span>
                <span className={`bp-dot bp-${level}`} data-testid="vertex-backpressure">
                  {level}
                </span>
              </div>
              <div className="vertex-line">
                <span>
                  in <b data-testid="rate-in">{fmtRate(v?.rates?.['records-in-per-second'])}</b>
                </span>
                <span>
                  out <b data-testid="rate-out">{fmtRate(v?.rates?.['records-out-per-second'])}</b>
                </span>
              </div>
              <div className="vertex-line small muted">
                <span data-testid="vertex-status">{v?.status ?? ''}</span>
                <span title={`lowest input watermark: ${fmtWatermark(v?.watermark)}`}>wm {shortWatermark(v?.watermark)}</span>
              </div>
            </div>
          );
        })}
      </div>
      <div className="legend small">
        backpressure: <span className="bp-dot bp-ok">ok</span> <span className="bp-dot bp-low">low (&gt;10%)</span>{' '}
        <span className="bp-dot bp-high">high (&gt;50%)</span>
      </div>
    </div>
  );
}
