import type { ReactNode } from 'react';

export function StateBadge({ state, testid = 'job-state' }: { state: string; testid?: string }) {
  return (
    <span className={`badge state-${state.toLowerCase()}`} data-testid={testid}>
      {state}
    </span>
  );
}

export function ErrorLine({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <div className="error" data-testid="error">
      {error}
    </div>
  );
}

export function Card({ title, children, testid }: { title: string; children: ReactNode; testid?: string }) {
  return (
    <section className="card" data-testid={testid}>
      <h3>{title}</h3>
      {children}
    </section>
  );
}

export function Stat({ label, value, testid }: { label: string; value: ReactNode; testid?: string }) {
  return (
    <div className="stat">
      <div className="stat-value" data-testid={testid}>
        {value}
      </div>
      <div className="stat-label">{label}</div>
    </div>
  );
}

export function Loading() {
  return <div className="muted">Loading…</div>;
}
