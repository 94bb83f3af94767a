// Closed trades (/trades): filters, sortable server-side paged table, CSV link,
// profit distribution. The filters, sort and page live in the page's query string.
// Fetches /api/symbols, /api/trades and /api/distribution.

import { $, el, api, query, runPage } from './common.js';
import { TradesTable, sortParams } from './trades-table.js';
import { categoryBars, GREEN, RED } from './charts.js';

const FILTERS = ['bot', 'symbol', 'type', 'since', 'until'];
const form = $('#filters');

/** State from the address bar. */
function readState() {
  const q = new URLSearchParams(location.search);
  const state = {};
  for (const key of FILTERS) state[key] = q.get(key) || '';
  state.sort = q.get('sort') || '';
  state.order = q.get('order') || '';
  const page = parseInt(q.get('page') || '1', 10);
  state.page = Number.isFinite(page) && page >= 1 ? page : 1;
  return state;
}

const state = readState();

function filterParams() {
  const params = {};
  for (const key of FILTERS) params[key] = state[key];
  return params;
}

/** Keep the state in the address bar (no history entry; the token parameter is dropped). */
function writeState() {
  const q = query({ ...filterParams(), ...sortParams(state), page: state.page > 1 ? state.page : null });
  history.replaceState(null, '', q ? `${location.pathname}?${q}` : location.pathname);
}

function setOptions(select, values, allLabel, current) {
  // Rebuilt only when the list changed (a live refresh must not close an open select).
  const signature = JSON.stringify([values, current]);
  if (select.dataset.signature === signature) return;
  select.dataset.signature = signature;
  const options = [el('option', { value: '', text: allLabel })];
  const seen = new Set();
  for (const { value, label } of values) {
    seen.add(value);
    options.push(el('option', { value, text: label }));
  }
  // A value from a shared link that the server no longer lists stays selectable.
  if (current && !seen.has(current)) options.push(el('option', { value: current, text: current }));
  select.replaceChildren(...options);
  select.value = current || '';
}

function renderSymbols(data) {
  setOptions(form.elements.bot, data.bots.map((b) => ({ value: b.id, label: `${b.id} (${b.type})` })), 'all bots', state.bot);
  setOptions(form.elements.symbol, data.symbols.map((s) => ({ value: s, label: s })), 'all symbols', state.symbol);
}

function syncForm() {
  form.elements.type.value = state.type;
  form.elements.since.value = state.since;
  form.elements.until.value = state.until;
  if (form.elements.bot.options.length > 1 || !state.bot) form.elements.bot.value = state.bot;
  if (form.elements.symbol.options.length > 1 || !state.symbol) form.elements.symbol.value = state.symbol;
}

function bucketTick(b) {
  if (b.low === null || b.low === undefined) return `<${b.high}`;
  if (b.high === null || b.high === undefined) return `≥${b.low}`;
  return `${b.low}…${b.high}`;
}

function bucketColor(b) {
  if (b.high !== null && b.high !== undefined && parseFloat(b.high) <= 0) return RED;
  if (b.low !== null && b.low !== undefined && parseFloat(b.low) >= 0) return GREEN;
  return '#8c959f';
}

function renderDistribution(data) {
  const total = data.buckets.reduce((n, b) => n + b.trades, 0);
  categoryBars($('#chart-distribution'), {
    labels: data.buckets.map((b) => b.label),
    axisLabels: data.buckets.map(bucketTick),
    values: data.buckets.map((b) => b.trades),
    colors: data.buckets.map(bucketColor),
    label: 'trades',
    empty: 'No closed trades match.',
  });
  $('#unknown').textContent = `${total} trade${total === 1 ? '' : 's'} by PnL % (bucket edges in percent)`
    + (data.unknown ? ` · ${data.unknown} without a PnL % not shown` : '');
}

let reload;
const table = new TradesTable($('#trades'), { state, onChange: () => { writeState(); reload(); } });

form.addEventListener('submit', (event) => event.preventDefault());
form.addEventListener('change', () => {
  for (const key of FILTERS) state[key] = form.elements[key].value;
  state.page = 1;
  writeState();
  reload();
});
form.addEventListener('reset', () => {
  // After the browser has reset the inputs.
  setTimeout(() => {
    for (const key of FILTERS) state[key] = '';
    state.page = 1;
    syncForm();
    writeState();
    reload();
  });
});

syncForm();
writeState();

reload = runPage(async () => {
  const filters = filterParams();
  const [symbols, trades, distribution] = await Promise.all([
    api('/api/symbols'),
    api('/api/trades', { ...filters, ...sortParams(state), page: state.page }),
    api('/api/distribution', filters),
  ]);
  renderSymbols(symbols);
  syncForm();
  table.render(trades);
  renderDistribution(distribution);
  const csv = query({ ...filters, ...sortParams(state) });
  $('#csv').href = csv ? `/api/trades.csv?${csv}` : '/api/trades.csv';
});
