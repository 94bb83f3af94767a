// Overview (/): bots table with totals, cumulative PnL per bot, daily PnL bars.
// Fetches /api/overview and /api/daily.

import { $, el, fill, api, amount, percent, ageWords, time, botLink, runPage, toNumber, DASH } from './common.js';
import { dayLines, dayBars } from './charts.js';

const table = $('#bots');

function statusCell(bot) {
  const cell = el('td', { dataset: { col: 'status' } },
    el('span', { class: `status status-${bot.status}`, text: bot.status }));
  if (bot.stale) {
    const age = bot.heartbeat_age_seconds === null || bot.heartbeat_age_seconds === undefined
      ? 'no heartbeat' : ageWords(bot.heartbeat_age_seconds);
    const badge = el('span', {
      class: 'badge stale',
      dataset: { col: 'stale' },
      text: `stale · ${age}`,
    });
    badge.title = bot.last_heartbeat ? `last heartbeat ${bot.last_heartbeat}` : 'no heartbeat recorded';
    cell.append(' ', badge);
  }
  return cell;
}

const num = (col, content) => el('td', { class: 'num', dataset: { col } }, content);
const int = (v) => (v === null || v === undefined ? DASH : String(v));

function botRow(bot) {
  const row = el('tr', { dataset: { bot: bot.id } },
    el('th', { scope: 'row', dataset: { col: 'id' } }, botLink(bot.id)),
    el('td', { dataset: { col: 'type' }, text: bot.type }),
    statusCell(bot),
    num('current_balance', amount(bot.current_balance)),
    num('total_pnl', amount(bot.total_pnl, { pnl: true })),
    num('today_pnl', amount(bot.today_pnl, { pnl: true })),
    num('open_positions', int(bot.open_positions)),
    num('closed_trades', int(bot.closed_trades)),
    num('win_rate', percent(bot.win_rate)),
  );
  if (bot.stale) row.classList.add('is-stale');
  const heartbeat = bot.last_heartbeat ? `last heartbeat ${bot.last_heartbeat}` : 'no heartbeat recorded';
  row.cells[2].title = row.cells[2].title || heartbeat;
  return row;
}

function totalsRow(t) {
  return el('tr', { id: 'totals' },
    el('th', { scope: 'row', dataset: { col: 'bots' } }, `Total · ${t.bots} bot${t.bots === 1 ? '' : 's'}`),
    el('td'), el('td'),
    num('current_balance', amount(t.current_balance)),
    num('total_pnl', amount(t.total_pnl, { pnl: true })),
    num('today_pnl', amount(t.today_pnl, { pnl: true })),
    num('open_positions', int(t.open_positions)),
    num('closed_trades', int(t.closed_trades)),
    num('win_rate', percent(t.win_rate)),
  );
}

function renderOverview(data) {
  const rows = data.bots.map(botRow);
  if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: 9, text: 'No bots yet.' })));
  fill(table.tBodies[0], rows);
  fill(table.tFoot, totalsRow(data.totals));
  fill($('#asof'), 'As of ', time(data.now), ` · today is ${data.today} (UTC) · a bot is stale after ${ageWords(data.stale_after_seconds)} without a heartbeat`);
}

function renderDaily(daily) {
  const bots = [...daily.bots].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  dayLines($('#chart-cumulative'), {
    days: daily.days,
    series: bots.map((b) => ({ label: b.id, values: b.cumulative.map(toNumber) })),
    fromZero: true,
  });
  const sums = daily.days.map((_, i) => {
    let sum = null;
    for (const b of bots) {
      const v = toNumber(b.daily[i]);
      if (v !== null) sum = (sum ?? 0) + v;
    }
    return sum;
  });
  dayBars($('#chart-daily'), { days: daily.days, values: sums, label: 'PnL, all bots' });
}

runPage(async () => {
  const [overview, daily] = await Promise.all([api('/api/overview'), api('/api/daily')]);
  renderOverview(overview);
  renderDaily(daily);
});
