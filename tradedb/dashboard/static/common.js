// Shared helpers of the tradedb dashboard pages: fetching the JSON API, building
// DOM safely (textContent only: bot ids, symbols and exit reasons are user text),
// exact amounts (strings from the API, never parsed for display), UTC times, the
// error line and the live indicator (EventSource on /api/events).

// ---------------------------------------------------------------- DOM

/** createElement with attributes/properties and children (strings become text nodes). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children of node. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

// ---------------------------------------------------------------- values

export const DASH = '—';

/** Sign of a decimal string read from its text: -1, 0 or 1 (null for null). */
export function signOf(amount) {
  if (amount === null || amount === undefined) return null;
  const text = String(amount).trim();
  if (!/[1-9]/.test(text)) return 0;
  return text.startsWith('-') ? -1 : 1;
}

/** CSS class for a PnL amount by its sign. */
export function pnlClass(amount) {
  const sign = signOf(amount);
  return sign === null ? 'na' : sign < 0 ? 'neg' : sign > 0 ? 'pos' : 'zero';
}

/**
 * An amount shown exactly as the API sent it. The trailing zeros past two
 * decimals are only dimmed (in their own span): the element's textContent is
 * the API's string, character for character.
 */
export function amount(value, { pnl = false } = {}) {
  const span = el('span', { class: pnl ? `amount ${pnlClass(value)}` : 'amount' });
  if (value === null || value === undefined) {
    span.classList.add('na');
    span.textContent = DASH;
    return span;
  }
  const text = String(value);
  const match = /^(-?\d*\.\d\d)(\d*?)(0+)$/.exec(text);
  if (match && match[3]) {
    span.append(match[1] + match[2], el('span', { class: 'zeros', text: match[3] }));
  } else {
    span.textContent = text;
  }
  return span;
}

/** A percent string ("55.17") shown as is; the "%" comes from CSS, not the text. */
export function percent(value, { pnl = false } = {}) {
  if (value === null || value === undefined) return el('span', { class: 'na', text: DASH });
  return el('span', { class: pnl ? `pct ${pnlClass(value)}` : 'pct', text: String(value) });
}

/** Age in words: "45s", "7m", "3h 12m", "2d 5h". */
export function ageWords(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return DASH;
  let s = Math.max(0, Math.floor(Number(seconds)));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/**
 * A UTC time string from the API ("2026-12-02 12:00:00.000000Z") as a <time>
 * element showing "2026-12-02 12:00:00 UTC" (without " UTC" in table cells, whose
 * header says UTC); the exact value is its title and its datetime attribute.
 */
export function time(value, { suffix = true } = {}) {
  if (value === null || value === undefined) return el('span', { class: 'na', text: DASH });
  const text = String(value);
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(text);
  if (!m) return el('span', { class: 'time', text });
  return el('time', { class: 'time', datetime: `${m[1]}T${m[2]}${m[3] || ''}Z`, title: text },
    `${m[1]} ${m[2]}`, suffix ? el('span', { class: 'utc-suffix', text: ' UTC' }) : null);
}

/** Seconds since the epoch of an API time string (charts only), or null. */
export function epochSeconds(value) {
  if (!value) return null;
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d):(\d\d)(\.\d+)?Z?)?$/.exec(String(value));
  if (!m) return null;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
  return ms / 1000 + (m[7] ? parseFloat(m[7]) : 0);
}

/** A number for charts (may be inexact; never used for display). */
export function toNumber(value) {
  if (value === null || value === undefined || value === '') return null;
  const n = parseFloat(value);
  return Number.isFinite(n) ? n : null;
}

// ---------------------------------------------------------------- links

export const botHref = (id) => `/bots/${encodeURIComponent(id)}`;
export const botLink = (id) => el('a', { href: botHref(id), class: 'bot-link', text: id });

/** The bot id of a /bots/{id} page, URL-decoded. */
export function botIdFromPath(pathname = location.pathname) {
  const m = /^\/bots\/(.+?)\/?$/.exec(pathname);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

// ---------------------------------------------------------------- API

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** GET a JSON API path; throws ApiError with the server's {"error": ...} text. */
export async function api(path, params) {
  const url = params ? `${path}?${query(params)}` : path;
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(`cannot reach the dashboard server (${err.message || err})`, 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    let message = body && typeof body.error === 'string' ? body.error : `${response.status} ${response.statusText}`;
    if (response.status === 401 && !/token required/i.test(message)) message = `token required: ${message}`;
    throw new ApiError(message, response.status);
  }
  if (body === null) throw new ApiError(`${url}: the server's answer is not JSON`, response.status);
  return body;
}

/** URLSearchParams text of the non-empty entries of an object. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    q.set(key, String(value));
  }
  return q.toString();
}

// ---------------------------------------------------------------- error line

/** Show an error (or clear it with null) in the page's #error line. */
export function showError(err) {
  const line = $('#error');
  if (!line) return;
  if (!err) {
    line.hidden = true;
    line.replaceChildren();
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err && err.status === 401) {
    const advice = message.replace(/^token required:?\s*/i, '')
      || 'open the dashboard with ?token=… in its address once; it then keeps the token in a cookie';
    fill(line, el('strong', { text: 'token required' }), ` — ${advice}`);
  } else {
    fill(line, el('strong', { text: 'Error: ' }), message);
  }
  line.hidden = false;
  document.body.dataset.error = '1';
}

function clearError() {
  showError(null);
  delete document.body.dataset.error;
}

// ---------------------------------------------------------------- page life

/**
 * Run a page: load() fetches and renders; it runs once now and again, debounced,
 * on each live "change" event. body.dataset.loaded becomes "1" after the first
 * successful render and body.dataset.refreshes counts the live refreshes done.
 * Returns reload(), which the page calls after its own state changes (filters...).
 */
export function runPage(load) {
  let running = null;
  let again = false;

  let lastError = null;
  async function once() {
    try {
      await load();
      clearError();
      lastError = null;
      return true;
    } catch (err) {
      console.warn(err);
      showError(err);
      lastError = err;
      return false;
    }
  }

  // Serialize loads: a request while one runs makes one more run afterwards.
  function reload() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let ok;
      do {
        again = false;
        ok = await once();
      } while (again);
      running = null;
      if (ok) document.body.dataset.loaded = '1';
      return ok;
    })();
    return running;
  }

  let timer = null;
  function liveRefresh() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      await reload();
      document.body.dataset.refreshes = String((Number(document.body.dataset.refreshes) || 0) + 1);
    }, 200);
  }

  document.body.dataset.refreshes = document.body.dataset.refreshes || '0';
  reload().then((ok) => {
    if (!ok && (!lastError || !lastError.status || lastError.status >= 500)) {
      // Server down or failing: retry the first load every few seconds until it works
      // (a 400/401/404 stays shown until a live change or a new filter reloads).
      const retry = setInterval(async () => {
        if (await reload()) clearInterval(retry);
      }, 5000);
    }
  });
  startLive(liveRefresh);
  return reload;
}

/** EventSource on /api/events; calls onChange on each "change" event and after a reconnect. */
export function startLive(onChange) {
  const indicator = $('#live');
  const set = (state, text, title) => {
    if (!indicator) return;
    indicator.className = `live live-${state}`;
    indicator.textContent = text;
    indicator.title = title;
    indicator.dataset.state = state;
  };
  if (typeof EventSource === 'undefined') {
    set('off', 'offline', 'this browser has no EventSource: reload to see new data');
    return null;
  }
  set('connecting', 'connecting', 'connecting to /api/events');
  const source = new EventSource('/api/events');
  let lostOnce = false;
  source.onopen = () => {
    set('on', 'live', 'connected: the page updates on every change in the database');
    // Changes may have happened while disconnected.
    if (lostOnce) onChange();
  };
  source.onerror = () => {
    lostOnce = true;
    if (source.readyState === EventSource.CLOSED) set('off', 'offline', 'the live connection was refused: reload the page');
    else set('reconnecting', 'reconnecting', 'lost the live connection; retrying');
  };
  source.addEventListener('change', () => onChange());
  window.addEventListener('pagehide', () => source.close());
  return source;
}
