import { useEffect, useState } from 'react';
import { onTokenNeeded, setToken, usePoll } from './api';
import type { Config } from './types';
import { OverviewPage } from './pages/Overview';
import { JobsPage } from './pages/Jobs';
import { JobPage } from './pages/Job';
import { SubmitPage } from './pages/Submit';
import { LogsPage } from './pages/Logs';

export interface Route {
  page: string;
  jid?: string;
  tab?: string;
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '').split('?')[0];
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'overview' };
  if (parts[0] === 'jobs' && parts[1]) return { page: 'job', jid: parts[1], tab: parts[2] ?? 'graph' };
  return { page: parts[0] };
}

export function navigate(to: string): void {
  window.location.hash = to;
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const f = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return route;
}

/** Asks for the token when a changing request answered 401. */
function TokenDialog() {
  const [ask, setAsk] = useState<{ resolve: (t: string | null) => void; message: string } | null>(null);
  const [value, setValue] = useState('');
  useEffect(() => {
    onTokenNeeded((resolve, message) => setAsk({ resolve, message }));
    return () => onTokenNeeded(null);
  }, []);
  if (!ask) return null;
  const done = (t: string | null) => {
    ask.resolve(t);
    setAsk(null);
    setValue('');
  };
  return (
    <div className="modal-back" data-testid="token-dialog">
      <form
        className="modal"
        onSubmit={(e) => {
          e.preventDefault();
          done(value.trim() || null);
        }}
      >
        <h3>Token needed</h3>
        <p>{ask.message}</p>
        <input
          autoFocus
          data-testid="token-input"
          placeholder="token"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <div className="row">
          <button type="submit" data-testid="token-save">Save</button>
          <button type="button" onClick={() => done(null)}>Cancel</button>
        </div>
      </form>
    </div>
  );
}

function TokenSetting() {
  return (
    <button
      className="link small"
      title="Set the token the server printed (Weir UI: …#token=…)"
      onClick={() => {
        const t = window.prompt('UI token (printed by weir as "Weir UI: http://…/#token=…")');
        if (t) setToken(t.trim());
      }}
    >
      token
    </button>
  );
}

export function App() {
  const route = useRoute();
  const config = usePoll<Config>('config', 10000);
  const nav: [string, string, string][] = [
    ['#/overview', 'Overview', 'overview'],
    ['#/jobs', 'Jobs', 'jobs'],
    ['#/submit', 'Submit', 'submit'],
    ['#/logs', 'Logs', 'logs'],
  ];
  let body;
  switch (route.page) {
    case 'jobs':
      body = <JobsPage />;
      break;
    case 'job':
      body = <JobPage jid={route.jid!} tab={route.tab!} />;
      break;
    case 'submit':
      body = <SubmitPage config={config.data} />;
      break;
    case 'logs':
      body = <LogsPage />;
      break;
    default:
      body = <OverviewPage />;
  }
  const active = route.page === 'job' ? 'jobs' : route.page;
  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href="#/overview">Weir</a>
        <nav>
          {nav.map(([href, label, page]) => (
            <a key={page} href={href} className={active === page ? 'active' : ''} data-testid={`nav-${page}`}>
              {label}
            </a>
          ))}
        </nav>
        <span className="spacer" />
        <span className="muted small" data-testid="version">
          {config.data ? `${config.data['weir-version'] ?? ''} · ${config.data.mode ?? ''}` : ''}
        </span>
        <TokenSetting />
      </header>
      <main>{body}</main>
      <TokenDialog />
    </div>
  );
}
