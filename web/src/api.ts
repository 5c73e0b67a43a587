// The REST client: relative URLs (so the UI works under a path prefix), the bearer token for
// changing routes, and a polling hook.
import { useEffect, useState } from 'react';

const TOKEN_KEY = 'weir.token';

/** Reads `token=` from the fragment (`#token=X`, `#/jobs?token=X`) or the query, stores it and
 *  strips it from the address bar. Called once at load. */
export function takeTokenFromUrl(): void {
  const url = new URL(window.location.href);
  let token: string | null = url.searchParams.get('token');
  url.searchParams.delete('token');
  const hash = url.hash.replace(/^#/, '');
  let route = hash;
  let params = new URLSearchParams();
  if (hash.startsWith('token=')) {
    route = '';
    params = new URLSearchParams(hash);
  } else if (hash.includes('?')) {
    route = hash.slice(0, hash.indexOf('?'));
    params = new URLSearchParams(hash.slice(hash.indexOf('?') + 1));
  }
  if (params.has('token')) {
    token = params.get('token');
    params.delete('token');
  }
  if (token === null) return;
  if (token) localStorage.setItem(TOKEN_KEY, token);
  const rest = params.toString();
  const newHash = route + (rest ? '?' + rest : '');
  const search = url.searchParams.toString();
  window.history.replaceState(null, '', url.pathname + (search ? '?' + search : '') + (newHash ? '#' + newHash : ''));
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

/** An error the server answered with ({"errors":[...]}) or a failed request. */
export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

type TokenWaiter = (token: string | null) => void;
let tokenListener: ((resolve: TokenWaiter, message: string) => void) | null = null;

/** The App registers the dialog that asks for a token when a change answers 401. */
export function onTokenNeeded(listener: ((resolve: TokenWaiter, message: string) => void) | null): void {
  tokenListener = listener;
}

function askToken(message: string): Promise<string | null> {
  return new Promise((resolve) => {
    if (!tokenListener) {
      const t = window.prompt(message);
      resolve(t);
      return;
    }
    tokenListener(resolve, message);
  });
}

async function errorOf(res: Response): Promise<ApiError> {
  let msg = `${res.status} ${res.statusText}`;
  try {
    const text = await res.text();
    try {
      const body = JSON.parse(text);
      if (body && Array.isArray(body.errors) && body.errors.length) msg = body.errors.join('; ');
    } catch {
      if (text) msg = text.slice(0, 500);
    }
  } catch {
    /* the body is gone: keep the status line */
  }
  return new ApiError(res.status, msg);
}

/** A GET, parsed as JSON (or text when `text` is set). */
export async function get<T>(path: string, text = false): Promise<T> {
  const res = await fetch(path, { headers: { Accept: text ? 'text/plain' : 'application/json' } });
  if (!res.ok) throw await errorOf(res);
  return (text ? await res.text() : await res.json()) as T;
}

/** A changing request (POST, PATCH, DELETE) with the token; on 401 it asks for the token and
 *  tries once more. */
export async function change<T>(method: string, path: string, body?: unknown): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const token = getToken();
    if (token) headers['Authorization'] = `Bearer ${token}`;
    // An empty body rather than none: the server wants a Content-Length on every change.
    let payload: BodyInit = '';
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(path, { method, headers, body: payload });
    if (res.status === 401 && attempt === 0) {
      const err = await errorOf(res);
      const t = await askToken(
        `The server needs the UI token for this (${err.message}). It is printed by weir as "Weir UI: http://…/#token=…".`,
      );
      if (!t) throw err;
      setToken(t.trim());
      continue;
    }
    if (!res.ok) throw await errorOf(res);
    const text = await res.text();
    if (!text) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as unknown as T;
    }
  }
}

export interface Polled<T> {
  data: T | null;
  error: string | null;
  /** When the last successful answer came (ms), to tell stale data. */
  at: number;
}

/** Polls `path` every `intervalMs` (one request at a time); null path: nothing. */
export function usePoll<T>(path: string | null, intervalMs = 1000, text = false): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: null, error: null, at: 0 });
  useEffect(() => {
    setState({ data: null, error: null, at: 0 });
    if (path === null) return;
    let stopped = false;
    let timer: number | undefined;
    const tick = async () => {
      try {
        const data = await get<T>(path, text);
        if (!stopped) setState({ data, error: null, at: Date.now() });
      } catch (e) {
        if (!stopped) setState((s) => ({ ...s, error: (e as Error).message }));
      }
      if (!stopped) timer = window.setTimeout(tick, intervalMs);
    };
    tick();
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [path, intervalMs, text]);
  return state;
}
