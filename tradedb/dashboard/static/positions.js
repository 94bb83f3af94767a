// A row of an open positions table (#positions), shared by /open and /bots/{id}.

import { el, amount, ageWords, time, botLink, DASH } from './common.js';

export function positionRow(p, { withBot = true } = {}) {
  const td = (col, content, num = false) => el('td', { class: num ? 'num' : null, dataset: { col } }, content);
  return el('tr', { dataset: { trade: p.id } },
    withBot ? td('bot_id', botLink(p.bot_id)) : null,
    td('symbol', p.symbol ?? DASH),
    td('direction', el('span', { class: `dir dir-${p.direction}`, text: p.direction ?? DASH })),
    td('entry_time', time(p.entry_time, { suffix: false })),
    td('entry_price', amount(p.entry_price), true),
    td('size', amount(p.size), true),
    td('entry_value', amount(p.entry_value), true),
    td('age_seconds', ageWords(p.age_seconds), true),
  );
}
