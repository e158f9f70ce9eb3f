// Admin API client. The token lives in sessionStorage only (gone when the tab closes), is sent
// as a bearer header (no cookies: nothing for a cross-site request to ride on) and never put
// in a URL.
const TOKEN_KEY = 'relais.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * api('/queue', {query: {state: 'deferred'}}) → parsed JSON. Empty query values are dropped.
 * Throws ApiError (status 0 when the server could not be reached).
 */
export async function api(path, { method = 'GET', query, body, token = session.token } = {}) {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  const headers = { accept: 'application/json', authorization: `Bearer ${token ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
  } catch {
    throw new ApiError(0, 'Serveur injoignable / Server unreachable');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, data?.message ?? `HTTP ${res.status}`);
  }
  return data;
}

/** Path segment encoding for addresses and ids (an address may contain "+", "/" …). */
export const seg = (s) => encodeURIComponent(s);
