import { useEffect, useState } from 'preact/hooks';

const TOKEN = document.querySelector<HTMLMetaElement>('meta[name="kisflow-token"]')?.content ?? '';

/** A failed request: the server's code and message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Requests the page's shell started before the bundle loaded (see server.ts), each used once. */
const prefetched: Record<string, Promise<Response> | undefined> =
  (window as unknown as { kisflowPrefetch?: Record<string, Promise<Response>> }).kisflowPrefetch ?? {};

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const early = method === 'GET' ? prefetched[path] : undefined;
  if (early) delete prefetched[path];
  const response = await (early ??
    fetch(path, {
      method,
      headers: {
        'x-kisflow-token': TOKEN,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }));
  const value = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!response.ok) {
    throw new ApiError(
      value.error?.code ?? 'HTTP',
      value.error?.message ?? response.statusText,
      response.status,
    );
  }
  return value as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
/** Every action is a POST carrying the token in its header. */
export const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body);

const watchers = new Set<() => void>();

/** Server-sent `change` events: the pages that show live data read again. */
export function watchChanges(onState: (live: boolean) => void): void {
  const source = new EventSource(`/api/events${TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : ''}`);
  source.addEventListener('change', () => {
    for (const w of watchers) w();
  });
  source.onopen = () => onState(true);
  source.onerror = () => onState(false);
}

export interface Loaded<T> {
  readonly data?: T;
  readonly error?: ApiError;
  reload(): void;
}

/** GETs `path` now, again when it changes, and (with `live`) on every server change. */
export function useApi<T>(path: string, live = true): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError }>({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!live) return;
    const w = () => setTick((n) => n + 1);
    watchers.add(w);
    return () => watchers.delete(w);
  }, [live]);
  useEffect(() => {
    let stale = false;
    get<T>(path).then(
      (data) => !stale && setState({ data }),
      (error: ApiError) => !stale && setState((s) => ({ ...s, error })),
    );
    return () => {
      stale = true;
    };
  }, [path, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}
