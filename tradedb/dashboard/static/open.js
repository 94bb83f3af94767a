// Open positions (/open): every open trade, oldest first. Fetches /api/open.

import { $, el, fill, api, runPage, time } from './common.js';
import { positionRow } from './positions.js';

runPage(async () => {
  const data = await api('/api/open');
  const rows = data.positions.map((p) => positionRow(p));
  if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: 8, text: 'No open positions.' })));
  fill($('#positions').tBodies[0], rows);
  const n = data.positions.length;
  fill($('#asof'), `${n} open position${n === 1 ? '' : 's'} · as of `, time(data.now));
});
