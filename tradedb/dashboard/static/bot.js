// One bot (/bots/{id}): details, equity curve, daily PnL, metrics over time, its
// open positions and its closed trades (paged, sortable; page and sort in the query string).
// Fetches /api/bots/{id}, /api/daily?bot=, /api/open?bot=, /api/trades?bot=.

import { $, el, fill, api, query, amount, percent, ageWords, time, botIdFromPath, runPage, toNumber, epochSeconds, DASH } from './common.js';
import { dayLines, dayBars, timeLines, PALETTE } from './charts.js';
import { TradesTable, sortParams } from './trades-table.js';
import { positionRow } from './positions.js';

const botId = botIdFromPath();

function readState() {
  const q = new URLSearchParams(location.search);
  const page = parseInt(q.get('page') || '1', 10);
  return {
    sort: q.get('sort') || '',
    order: q.get('order') || '',
    page: Number.isFinite(page) && page >= 1 ? page : 1,
  };
}

const state = readState();

function writeState() {
  const q = query({ ...sortParams(state), page: state.page > 1 ? state.page : null });
  history.replaceState(null, '', q ? `${location.pathname}?${q}` : location.pathname);
}

function item(col, label, ...value) {
  return el('div', { class: 'item' }, el('dt', { text: label }), el('dd', { dataset: { col } }, ...value));
}

function renderBot(bot) {
  document.title = `${bot.id} · tradedb`;
  $('#bot-title').textContent = bot.id;
  $('#bot-crumb').textContent = bot.id;
  const heartbeat = [time(bot.last_heartbeat)];
  if (bot.heartbeat_age_seconds !== null && bot.heartbeat_age_seconds !== undefined) {
    heartbeat.push(el('span', { class: 'muted', text: ` (${ageWords(bot.heartbeat_age_seconds)} ago)` }));
  }
  if (bot.stale) heartbeat.push(' ', el('span', { class: 'badge stale', dataset: { col: 'stale' }, text: `stale · ${bot.heartbeat_age_seconds == null ? 'no heartbeat' : ageWords(bot.heartbeat_age_seconds)}` }));
  fill($('#bot'),
    item('status', 'Status', el('span', { class: `status status-${bot.status}`, text: bot.status })),
    item('type', 'Type', bot.type ?? DASH),
    item('current_balance', 'Balance', amount(bot.current_balance)),
    item('total_pnl', 'Total PnL', amount(bot.total_pnl, { pnl: true })),
    item('today_pnl', "Today's PnL", amount(bot.today_pnl, { pnl: true })),
    item('open_positions', 'Open positions', String(bot.open_positions ?? DASH)),
    item('closed_trades', 'Closed trades', `${bot.closed_trades ?? DASH}`,
      el('span', { class: 'muted', text: ` (${bot.wins ?? 0} won, ${bot.losses ?? 0} lost)` })),
    item('win_rate', 'Win rate', percent(bot.win_rate)),
    item('last_heartbeat', 'Heartbeat', ...heartbeat),
    item('started_at', 'Started', time(bot.started_at)),
    item('config_file', 'Config file', bot.config_file ? el('code', { text: bot.config_file }) : el('span', { class: 'na', text: DASH })),
  );
}

const METRICS = [
  { key: 'total_return', label: 'Total return %', scale: 'pct' },
  { key: 'max_drawdown', label: 'Max drawdown %', scale: 'pct' },
  { key: 'win_rate', label: 'Win rate %', scale: 'pct' },
  { key: 'sharpe_ratio', label: 'Sharpe', scale: 'ratio' },
];

function renderMetrics(metrics) {
  const withTime = metrics.filter((m) => epochSeconds(m.calculated_at) !== null);
  timeLines($('#chart-metrics'), {
    times: withTime.map((m) => epochSeconds(m.calculated_at)),
    series: METRICS.map((s, i) => ({
      label: s.label,
      scale: s.scale,
      color: PALETTE[i],
      dash: s.scale === 'ratio' ? [6, 4] : undefined,
      values: withTime.map((m) => toNumber(m[s.key])),
    })),
  });
  const cell = (col, content) => el('td', { class: 'num', dataset: { col } }, content);
  const rows = [...metrics].reverse().map((m) => el('tr', {},
    el('td', { dataset: { col: 'calculated_at' } }, time(m.calculated_at, { suffix: false })),
    cell('sharpe_ratio', amount(m.sharpe_ratio)),
    cell('max_drawdown', percent(m.max_drawdown)),
    cell('win_rate', percent(m.win_rate)),
    cell('total_return', percent(m.total_return, { pnl: true })),
    cell('profit_factor', amount(m.profit_factor)),
    cell('total_trades', m.total_trades === null || m.total_trades === undefined ? DASH : String(m.total_trades)),
  ));
  if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: 7, text: 'No metrics stored yet.' })));
  fill($('#metrics').tBodies[0], rows);
}

function renderDaily(daily) {
  const mine = daily.bots.find((b) => b.id === botId) || { daily: daily.days.map(() => null), cumulative: [] };
  const days = mine.cumulative.length ? daily.days : [];
  dayLines($('#chart-equity'), { days, fromZero: true, series: [{ label: 'cumulative PnL', values: mine.cumulative.map(toNumber) }] });
  dayBars($('#chart-daily'), { days, values: mine.daily.map(toNumber), label: 'PnL' });
}

function renderOpen(open) {
  const rows = open.positions.map((p) => positionRow(p, { withBot: false }));
  if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: 7, text: 'No open positions.' })));
  fill($('#positions').tBodies[0], rows);
}

let reload;
const table = new TradesTable($('#trades'), {
  state,
  omit: ['bot_id'],
  onChange: () => { writeState(); reload(); },
});

if (botId === null) {
  $('#error').hidden = false;
  $('#error').textContent = 'No bot id in this address: open a bot from the overview.';
} else {
  $('#bot-trades-link').href = `/trades?${query({ bot: botId })}`;
  $('#bot-title').textContent = botId;
  $('#bot-crumb').textContent = botId;
  writeState();
  reload = runPage(async () => {
    const [detail, daily, open, trades] = await Promise.all([
      api(`/api/bots/${encodeURIComponent(botId)}`),
      api('/api/daily', { bot: botId }),
      api('/api/open', { bot: botId }),
      api('/api/trades', { bot: botId, ...sortParams(state), page: state.page }),
    ]);
    renderBot(detail.bot);
    renderMetrics(detail.metrics);
    renderDaily(daily);
    renderOpen(open);
    table.render(trades);
  });
}
