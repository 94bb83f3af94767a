// The closed-trades table (sortable headers, pager), shared by /trades and /bots/{id}.
// The server sorts and pages: the table only sends sort, order and page.

import { el, fill, amount, percent, time, botLink, DASH } from './common.js';

export const DEFAULT_SORT = 'exit_time';
export const DEFAULT_ORDER = 'desc';
const TEXT_SORTS = new Set(['symbol', 'bot_id']);

const text = (v) => (v === null || v === undefined || v === '' ? el('span', { class: 'na', text: DASH }) : String(v));

export const COLUMNS = [
  { key: 'bot_id', label: 'Bot', sort: true, render: (r) => botLink(r.bot_id) },
  { key: 'trade_type', label: 'Type', render: (r) => text(r.trade_type) },
  { key: 'symbol', label: 'Symbol', sort: true, render: (r) => text(r.symbol) },
  { key: 'direction', label: 'Side', render: (r) => el('span', { class: `dir dir-${r.direction}`, text: r.direction ?? DASH }) },
  { key: 'entry_time', label: 'Entry (UTC)', sort: true, render: (r) => time(r.entry_time, { suffix: false }) },
  { key: 'exit_time', label: 'Exit (UTC)', sort: true, render: (r) => time(r.exit_time, { suffix: false }) },
  { key: 'entry_price', label: 'Entry price', num: true, render: (r) => amount(r.entry_price) },
  { key: 'exit_price', label: 'Exit price', num: true, render: (r) => amount(r.exit_price) },
  { key: 'size', label: 'Size', num: true, render: (r) => amount(r.size) },
  { key: 'net_pnl', label: 'Net PnL', sort: true, num: true, render: (r) => amount(r.net_pnl, { pnl: true }) },
  { key: 'pnl_percentage', label: 'PnL %', sort: true, num: true, render: (r) => percent(r.pnl_percentage, { pnl: true }) },
  { key: 'exit_reason', label: 'Exit reason', render: (r) => (r.exit_reason ? el('span', { class: 'reason', title: r.exit_reason, text: r.exit_reason }) : text(null)) },
];

/**
 * A closed-trades table bound to a <table id="trades">, and a pager
 * (#pager text, #prev / #next buttons).
 * state: {sort, order, page} (mutated); onChange(): called after a sort or page click.
 */
export class TradesTable {
  constructor(table, { state, onChange, omit = [] }) {
    this.table = table;
    this.state = state;
    this.onChange = onChange;
    this.columns = COLUMNS.filter((c) => !omit.includes(c.key));
    this.thead = table.tHead || table.createTHead();
    this.tbody = table.tBodies[0] || table.createTBody();
    this.prev = document.getElementById('prev');
    this.next = document.getElementById('next');
    this.pager = document.getElementById('pager');
    this.pages = 1;
    this.prev?.addEventListener('click', () => this.goto(this.state.page - 1));
    this.next?.addEventListener('click', () => this.goto(this.state.page + 1));
    this.renderHead();
  }

  goto(page) {
    page = Math.max(1, Math.min(page, Math.max(1, this.pages)));
    if (page === this.state.page) return;
    this.state.page = page;
    this.onChange();
  }

  sortBy(key) {
    const sort = this.state.sort || DEFAULT_SORT;
    const order = this.state.order || DEFAULT_ORDER;
    if (key === sort) this.state.order = order === 'desc' ? 'asc' : 'desc';
    else {
      this.state.sort = key;
      this.state.order = TEXT_SORTS.has(key) ? 'asc' : 'desc';
    }
    this.state.page = 1;
    this.renderHead();
    this.onChange();
  }

  renderHead() {
    const sort = this.state.sort || DEFAULT_SORT;
    const order = this.state.order || DEFAULT_ORDER;
    const row = el('tr');
    for (const c of this.columns) {
      const th = el('th', { scope: 'col', class: c.num ? 'num' : null });
      if (c.sort) {
        const active = c.key === sort;
        th.dataset.sort = c.key;
        th.setAttribute('aria-sort', active ? (order === 'asc' ? 'ascending' : 'descending') : 'none');
        th.append(el('button', {
          type: 'button',
          class: active ? `sort active ${order}` : 'sort',
          title: `sort by ${c.label.replace(' (UTC)', '').toLowerCase()}`,
          onclick: () => this.sortBy(c.key),
        }, c.label, el('span', { class: 'arrow', 'aria-hidden': 'true', text: active ? (order === 'asc' ? '▲' : '▼') : '↕' })));
      } else {
        th.textContent = c.label;
      }
      row.append(th);
    }
    fill(this.thead, row);
  }

  /** Render one page answer of /api/trades. */
  render(data) {
    this.pages = Math.max(1, data.pages || 0);
    const rows = data.rows.map((r) => el('tr', { dataset: { trade: r.id } },
      this.columns.map((c) => el('td', { class: c.num ? 'num' : null, dataset: { col: c.key } }, c.render(r)))));
    if (!rows.length) {
      rows.push(el('tr', { class: 'empty' }, el('td', {
        colspan: this.columns.length,
        text: data.total ? 'No trades on this page.' : 'No closed trades match.',
      })));
    }
    fill(this.tbody, rows);
    if (this.pager) {
      const page = data.page || this.state.page;
      this.pager.textContent = `page ${page} of ${this.pages} · ${data.total} trade${data.total === 1 ? '' : 's'}`;
      this.pager.dataset.page = String(page);
      this.pager.dataset.pages = String(this.pages);
      this.pager.dataset.total = String(data.total);
    }
    if (this.prev) this.prev.disabled = this.state.page <= 1;
    if (this.next) this.next.disabled = this.state.page >= this.pages;
  }
}

/** Sort/order/page params for the API (defaults left out). */
export function sortParams(state) {
  return {
    sort: state.sort && state.sort !== DEFAULT_SORT ? state.sort : null,
    order: state.order && state.order !== DEFAULT_ORDER ? state.order : null,
  };
}
