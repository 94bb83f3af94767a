-- tradedb: the current schema, readable in one place.
--
-- This file is what applying every migration in migrations/ produces; a test
-- (tests/test_migrations.py) fails if the two drift apart. Change the schema
-- by adding a migration, then update this file to match.
--
-- Conventions, because SQLite has no exact decimal type and no time type:
--
-- * Money and ratios are DECIMAL_TEXT(p,s): canonical decimal text such as
--   '50000.00000000' (an optional minus, digits, a point, exactly s digits).
--   A DECIMAL(20,8) column would have NUMERIC affinity and silently turn
--   '123456789012.12345678' into a float; a type name containing "TEXT"
--   gives TEXT affinity, so the value is kept exactly as written.
--   Columns the caller fills are limited to p-s integer digits; columns
--   tradedb computes (values, PnL, balances) keep the scale but are never
--   refused for their size, so a trade can always be closed.
--   The CHECKs are GLOBs: the whole value matches "[-]digits.digits", and no
--   character but the leading minus before the last point is a non-digit.
--   As text they compare and sort as text: query the views (trades_view,
--   bot_instances_view, performance_metrics_view, at the end) to compare,
--   sort and sum them as numbers.
-- * Times are UTC text 'YYYY-MM-DD HH:MM:SS.ffffffZ': fixed width, so text
--   order is time order, and SQLite's own date functions read them. The
--   CHECKs test the shape with GLOB and, past the 28th, the calendar with
--   date(), which moves an impossible day such as Feb 30 so that it no longer
--   matches (skipped up to the 28th, where every month has the day: cheaper).
-- * extra_metadata is JSON text (json_valid), at most 1048576 bytes.

CREATE TABLE bot_instances (
    id              TEXT PRIMARY KEY NOT NULL,
    type            TEXT NOT NULL,
    config_file     TEXT,
    status          TEXT NOT NULL DEFAULT 'running',
    current_balance DECIMAL_TEXT(20,8),
    total_pnl       DECIMAL_TEXT(20,8) NOT NULL DEFAULT '0.00000000',
    started_at      TEXT,
    last_heartbeat  TEXT,
    extra_metadata  TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000Z', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000Z', 'now')), archived_pnl DECIMAL_TEXT(20,8) NOT NULL DEFAULT '0.00000000',
    -- archived_pnl (migration 0004, which added it last; its form is held by the triggers
    -- bot_instances_archived_pnl_on_*): the net_pnl of the bot's closed trades that retention
    -- took out of this database. total_pnl is the sum of the closed trades' net_pnl here, plus archived_pnl.

    CONSTRAINT bot_instances_id_not_empty CHECK (length(id) BETWEEN 1 AND 255),
    CONSTRAINT bot_instances_type_known CHECK (type IN ('paper', 'live', 'optimization')),
    CONSTRAINT bot_instances_status_known CHECK (status IN ('running', 'stopped', 'error')),
    CONSTRAINT bot_instances_current_balance_decimal CHECK (
        (current_balance GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR current_balance GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
        AND current_balance NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT bot_instances_total_pnl_decimal CHECK (
        (total_pnl GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR total_pnl GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
        AND total_pnl NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT bot_instances_started_at_utc CHECK (
        started_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(started_at, 12, 2) < '24' AND substr(started_at, 6, 2) BETWEEN '01' AND '12'
        AND (substr(started_at, 9, 2) BETWEEN '01' AND '28' OR date(substr(started_at, 1, 10), '+0 days') IS substr(started_at, 1, 10))),
    CONSTRAINT bot_instances_last_heartbeat_utc CHECK (
        last_heartbeat GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(last_heartbeat, 12, 2) < '24' AND substr(last_heartbeat, 6, 2) BETWEEN '01' AND '12'
        AND (substr(last_heartbeat, 9, 2) BETWEEN '01' AND '28' OR date(substr(last_heartbeat, 1, 10), '+0 days') IS substr(last_heartbeat, 1, 10))),
    CONSTRAINT bot_instances_extra_metadata_json CHECK (extra_metadata IS NULL OR json_valid(extra_metadata)),
    CONSTRAINT bot_instances_created_at_utc CHECK (
        created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(created_at, 12, 2) < '24' AND substr(created_at, 6, 2) BETWEEN '01' AND '12'
        AND (substr(created_at, 9, 2) BETWEEN '01' AND '28' OR date(substr(created_at, 1, 10), '+0 days') IS substr(created_at, 1, 10))),
    CONSTRAINT bot_instances_updated_at_utc CHECK (
        updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(updated_at, 12, 2) < '24' AND substr(updated_at, 6, 2) BETWEEN '01' AND '12'
        AND (substr(updated_at, 9, 2) BETWEEN '01' AND '28' OR date(substr(updated_at, 1, 10), '+0 days') IS substr(updated_at, 1, 10)))
);

CREATE TABLE trades (
    id                 TEXT PRIMARY KEY NOT NULL,
    bot_id             TEXT NOT NULL REFERENCES bot_instances (id),
    trade_type         TEXT NOT NULL,
    strategy_name      TEXT,
    entry_logic_name   TEXT NOT NULL,
    exit_logic_name    TEXT NOT NULL,
    symbol             TEXT NOT NULL,
    interval           TEXT NOT NULL,
    entry_time         TEXT,
    exit_time          TEXT,
    buy_order_created  TEXT,
    buy_order_closed   TEXT,
    sell_order_created TEXT,
    sell_order_closed  TEXT,
    entry_price        DECIMAL_TEXT(20,8),
    exit_price         DECIMAL_TEXT(20,8),
    entry_value        DECIMAL_TEXT(20,8),
    exit_value         DECIMAL_TEXT(20,8),
    size               DECIMAL_TEXT(20,8),
    commission         DECIMAL_TEXT(20,8),
    gross_pnl          DECIMAL_TEXT(20,8),
    net_pnl            DECIMAL_TEXT(20,8),
    pnl_percentage     DECIMAL_TEXT(10,4),
    direction          TEXT NOT NULL,
    exit_reason        TEXT,
    status             TEXT NOT NULL DEFAULT 'open',
    extra_metadata     TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000Z', 'now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000Z', 'now')),

    CONSTRAINT trades_id_uuid CHECK (
        length(id) = 36 AND id GLOB '????????-????-????-????-????????????'
        AND id NOT GLOB '*[^0-9a-f-]*'),
    CONSTRAINT trades_trade_type_known CHECK (trade_type IN ('paper', 'live', 'optimization')),
    CONSTRAINT trades_direction_known CHECK (direction IN ('long', 'short')),
    CONSTRAINT trades_status_known CHECK (status IN ('open', 'closed', 'cancelled')),
    CONSTRAINT trades_names_not_empty CHECK (
        entry_logic_name <> '' AND exit_logic_name <> '' AND symbol <> '' AND interval <> ''),
    CONSTRAINT trades_closed_has_exit CHECK (
        status <> 'closed' OR (exit_time IS NOT NULL AND exit_price IS NOT NULL)),
    CONSTRAINT trades_exit_after_entry CHECK (exit_time >= entry_time),
    CONSTRAINT trades_entry_time_utc CHECK (
        entry_time GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(entry_time, 12, 2) < '24' AND substr(entry_time, 6, 2) BETWEEN '01' AND '12'
        AND (substr(entry_time, 9, 2) BETWEEN '01' AND '28' OR date(substr(entry_time, 1, 10), '+0 days') IS substr(entry_time, 1, 10))),
    CONSTRAINT trades_exit_time_utc CHECK (
        exit_time GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(exit_time, 12, 2) < '24' AND substr(exit_time, 6, 2) BETWEEN '01' AND '12'
        AND (substr(exit_time, 9, 2) BETWEEN '01' AND '28' OR date(substr(exit_time, 1, 10), '+0 days') IS substr(exit_time, 1, 10))),
    CONSTRAINT trades_buy_order_created_utc CHECK (
        buy_order_created GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(buy_order_created, 12, 2) < '24' AND substr(buy_order_created, 6, 2) BETWEEN '01' AND '12'
        AND (substr(buy_order_created, 9, 2) BETWEEN '01' AND '28' OR date(substr(buy_order_created, 1, 10), '+0 days') IS substr(buy_order_created, 1, 10))),
    CONSTRAINT trades_buy_order_closed_utc CHECK (
        buy_order_closed GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(buy_order_closed, 12, 2) < '24' AND substr(buy_order_closed, 6, 2) BETWEEN '01' AND '12'
        AND (substr(buy_order_closed, 9, 2) BETWEEN '01' AND '28' OR date(substr(buy_order_closed, 1, 10), '+0 days') IS substr(buy_order_closed, 1, 10))),
    CONSTRAINT trades_sell_order_created_utc CHECK (
        sell_order_created GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(sell_order_created, 12, 2) < '24' AND substr(sell_order_created, 6, 2) BETWEEN '01' AND '12'
        AND (substr(sell_order_created, 9, 2) BETWEEN '01' AND '28' OR date(substr(sell_order_created, 1, 10), '+0 days') IS substr(sell_order_created, 1, 10))),
    CONSTRAINT trades_sell_order_closed_utc CHECK (
        sell_order_closed GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(sell_order_closed, 12, 2) < '24' AND substr(sell_order_closed, 6, 2) BETWEEN '01' AND '12'
        AND (substr(sell_order_closed, 9, 2) BETWEEN '01' AND '28' OR date(substr(sell_order_closed, 1, 10), '+0 days') IS substr(sell_order_closed, 1, 10))),
    -- Prices and size: not negative, at most 12 integer digits.
    CONSTRAINT trades_entry_price_decimal CHECK (
        entry_price GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND entry_price NOT GLOB '*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND length(entry_price) <= 21),
    CONSTRAINT trades_exit_price_decimal CHECK (
        exit_price GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND exit_price NOT GLOB '*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND length(exit_price) <= 21),
    CONSTRAINT trades_size_decimal CHECK (
        size GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND size NOT GLOB '*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND length(size) <= 21),
    -- Values and commission: not negative; computed or summed, so unbounded.
    CONSTRAINT trades_entry_value_decimal CHECK (
        entry_value GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND entry_value NOT GLOB '*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT trades_exit_value_decimal CHECK (
        exit_value GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND exit_value NOT GLOB '*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT trades_commission_decimal CHECK (
        commission GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
        AND commission NOT GLOB '*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    -- PnL: signed, computed, so unbounded.
    CONSTRAINT trades_gross_pnl_decimal CHECK (
        (gross_pnl GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR gross_pnl GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
        AND gross_pnl NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT trades_net_pnl_decimal CHECK (
        (net_pnl GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR net_pnl GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
        AND net_pnl NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT trades_pnl_percentage_decimal CHECK (
        (pnl_percentage GLOB '[0-9]*.[0-9][0-9][0-9][0-9]' OR pnl_percentage GLOB '-[0-9]*.[0-9][0-9][0-9][0-9]')
        AND pnl_percentage NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9]'),
    CONSTRAINT trades_extra_metadata_json CHECK (extra_metadata IS NULL OR json_valid(extra_metadata)),
    CONSTRAINT trades_created_at_utc CHECK (
        created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(created_at, 12, 2) < '24' AND substr(created_at, 6, 2) BETWEEN '01' AND '12'
        AND (substr(created_at, 9, 2) BETWEEN '01' AND '28' OR date(substr(created_at, 1, 10), '+0 days') IS substr(created_at, 1, 10))),
    CONSTRAINT trades_updated_at_utc CHECK (
        updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(updated_at, 12, 2) < '24' AND substr(updated_at, 6, 2) BETWEEN '01' AND '12'
        AND (substr(updated_at, 9, 2) BETWEEN '01' AND '28' OR date(substr(updated_at, 1, 10), '+0 days') IS substr(updated_at, 1, 10)))
);

CREATE TABLE performance_metrics (
    id             TEXT PRIMARY KEY NOT NULL,
    bot_id         TEXT NOT NULL REFERENCES bot_instances (id),
    sharpe_ratio   DECIMAL_TEXT(10,4),
    profit_factor  DECIMAL_TEXT(10,4),
    max_drawdown   DECIMAL_TEXT(10,4),
    total_return   DECIMAL_TEXT(10,4),
    win_rate       DECIMAL_TEXT(5,2),
    total_trades   INTEGER,
    winning_trades INTEGER,
    losing_trades  INTEGER,
    avg_win        DECIMAL_TEXT(20,8),
    avg_loss       DECIMAL_TEXT(20,8),
    largest_win    DECIMAL_TEXT(20,8),
    largest_loss   DECIMAL_TEXT(20,8),
    calculated_at  TEXT,
    extra_metadata TEXT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000Z', 'now')),

    CONSTRAINT performance_metrics_id_uuid CHECK (
        length(id) = 36 AND id GLOB '????????-????-????-????-????????????'
        AND id NOT GLOB '*[^0-9a-f-]*'),
    CONSTRAINT performance_metrics_sharpe_ratio_decimal CHECK (
        (sharpe_ratio GLOB '[0-9]*.[0-9][0-9][0-9][0-9]' OR sharpe_ratio GLOB '-[0-9]*.[0-9][0-9][0-9][0-9]')
        AND sharpe_ratio NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9]'),
    CONSTRAINT performance_metrics_profit_factor_decimal CHECK (
        (profit_factor GLOB '[0-9]*.[0-9][0-9][0-9][0-9]' OR profit_factor GLOB '-[0-9]*.[0-9][0-9][0-9][0-9]')
        AND profit_factor NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9]'),
    CONSTRAINT performance_metrics_max_drawdown_decimal CHECK (
        (max_drawdown GLOB '[0-9]*.[0-9][0-9][0-9][0-9]' OR max_drawdown GLOB '-[0-9]*.[0-9][0-9][0-9][0-9]')
        AND max_drawdown NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9]'),
    CONSTRAINT performance_metrics_total_return_decimal CHECK (
        (total_return GLOB '[0-9]*.[0-9][0-9][0-9][0-9]' OR total_return GLOB '-[0-9]*.[0-9][0-9][0-9][0-9]')
        AND total_return NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9]'),
    -- A percentage: 0.00 to 100.00.
    CONSTRAINT performance_metrics_win_rate_percent CHECK (
        win_rate GLOB '[0-9]*.[0-9][0-9]'
        AND win_rate NOT GLOB '*[^0-9]*.[0-9][0-9]'
        AND CAST(win_rate AS REAL) <= 100),
    CONSTRAINT performance_metrics_counts_not_negative CHECK (
        (total_trades IS NULL OR (typeof(total_trades) = 'integer' AND total_trades >= 0))
        AND (winning_trades IS NULL OR (typeof(winning_trades) = 'integer' AND winning_trades >= 0))
        AND (losing_trades IS NULL OR (typeof(losing_trades) = 'integer' AND losing_trades >= 0))),
    CONSTRAINT performance_metrics_avg_win_decimal CHECK (
        (avg_win GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR avg_win GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
        AND avg_win NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT performance_metrics_avg_loss_decimal CHECK (
        (avg_loss GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR avg_loss GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
        AND avg_loss NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT performance_metrics_largest_win_decimal CHECK (
        (largest_win GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR largest_win GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
        AND largest_win NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT performance_metrics_largest_loss_decimal CHECK (
        (largest_loss GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR largest_loss GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
        AND largest_loss NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'),
    CONSTRAINT performance_metrics_calculated_at_utc CHECK (
        calculated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(calculated_at, 12, 2) < '24' AND substr(calculated_at, 6, 2) BETWEEN '01' AND '12'
        AND (substr(calculated_at, 9, 2) BETWEEN '01' AND '28' OR date(substr(calculated_at, 1, 10), '+0 days') IS substr(calculated_at, 1, 10))),
    CONSTRAINT performance_metrics_extra_metadata_json CHECK (extra_metadata IS NULL OR json_valid(extra_metadata)),
    CONSTRAINT performance_metrics_created_at_utc CHECK (
        created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z'
        AND substr(created_at, 12, 2) < '24' AND substr(created_at, 6, 2) BETWEEN '01' AND '12'
        AND (substr(created_at, 9, 2) BETWEEN '01' AND '28' OR date(substr(created_at, 1, 10), '+0 days') IS substr(created_at, 1, 10)))
);

-- The indexes the original design asked for.
CREATE INDEX idx_symbol_status ON trades (symbol, status);
CREATE INDEX idx_entry_time ON trades (entry_time);
CREATE INDEX idx_strategy ON trades (entry_logic_name, exit_logic_name);
CREATE INDEX idx_bot_trade_type ON trades (bot_id, trade_type);

-- Hot paths. A bot's open positions are read on every restart and often in
-- between: this partial index holds only open trades, so the cost stays flat
-- however much history a bot has. The planner uses it only when a query says
-- status = 'open' literally (a bound parameter does not match the WHERE).
CREATE INDEX idx_open_trades ON trades (bot_id, entry_time) WHERE status = 'open';
-- Every bot's open positions, oldest first, without reading closed history.
CREATE INDEX idx_open_trades_by_entry ON trades (entry_time) WHERE status = 'open';
-- A bot's closed trades, newest exit first.
CREATE INDEX idx_closed_trades ON trades (bot_id, exit_time) WHERE status = 'closed';
-- Migration 0006: closed trades by an amount, for pages sorted by net PnL
-- or PnL % (reports.sql) that read only the page.
CREATE INDEX idx_closed_trades_net_pnl ON trades (CAST(net_pnl AS REAL), id) WHERE status = 'closed';
CREATE INDEX idx_closed_trades_pnl_percentage ON trades (CAST(pnl_percentage AS REAL), id) WHERE status = 'closed';
-- All bots' trades by exit: history pages and retention.
CREATE INDEX idx_exit_time ON trades (exit_time);
CREATE INDEX idx_metrics_bot ON performance_metrics (bot_id, calculated_at);

-- A trade leaves 'open' once, for 'closed' or 'cancelled', and never moves
-- again; this holds for edits made in the sqlite3 shell too.
CREATE TRIGGER trades_status_transition
BEFORE UPDATE OF status ON trades
FOR EACH ROW WHEN OLD.status <> NEW.status AND OLD.status <> 'open'
BEGIN
    SELECT RAISE(ABORT, 'trades.status: a closed or cancelled trade cannot change status');
END;

-- Foreign keys that hold even where PRAGMA foreign_keys is off, as it is by
-- default in the sqlite3 shell. (tradedb's own connections also turn it on.)
-- One trigger per inserted trade, with one primary-key lookup of its bot:
-- the bot must exist (the foreign key) and have the trade's type. The
-- messages are picked only on failure.
CREATE TRIGGER trades_rules_on_insert
BEFORE INSERT ON trades
FOR EACH ROW WHEN NEW.trade_type IS NOT (SELECT type FROM bot_instances WHERE id = NEW.bot_id)
    OR (NEW.status = 'closed' AND (NEW.gross_pnl IS NULL OR NEW.net_pnl IS NULL))
    OR length(CAST(NEW.extra_metadata AS BLOB)) > 1048576
BEGIN
    SELECT RAISE(ABORT, 'trades.bot_id: no such bot instance; create the bot first')
    WHERE NOT EXISTS (SELECT 1 FROM bot_instances WHERE id = NEW.bot_id);
    SELECT RAISE(ABORT, 'trades.trade_type: is not the type of its bot; a bot''s trades have its type (paper, live or optimization)')
    WHERE NEW.trade_type IS NOT (SELECT type FROM bot_instances WHERE id = NEW.bot_id);
    SELECT RAISE(ABORT, 'trades.extra_metadata: longer than 1048576 bytes of JSON text; store less')
    WHERE length(CAST(NEW.extra_metadata AS BLOB)) > 1048576;
    SELECT RAISE(ABORT, 'trades.gross_pnl: a closed trade needs its gross_pnl; close it with close_trade or give the value')
    WHERE NEW.gross_pnl IS NULL;
    SELECT RAISE(ABORT, 'trades.net_pnl: a closed trade needs its net_pnl; close it with close_trade or give the value');
END;

-- Moving a trade to another bot, or changing its type: the same two rules.
-- Only a change is checked, so a row stored before these rules (migration
-- 0002) can still be edited, and fixed.
CREATE TRIGGER trades_rules_on_update_of_bot
BEFORE UPDATE OF bot_id, trade_type ON trades
FOR EACH ROW WHEN (NEW.bot_id IS NOT OLD.bot_id OR NEW.trade_type IS NOT OLD.trade_type)
    AND NEW.trade_type IS NOT (SELECT type FROM bot_instances WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'trades.bot_id: no such bot instance; create the bot first')
    WHERE NOT EXISTS (SELECT 1 FROM bot_instances WHERE id = NEW.bot_id);
    SELECT RAISE(ABORT, 'trades.trade_type: is not the type of its bot; a bot''s trades have its type (paper, live or optimization)');
END;

-- A write never leaves a closed trade without its PnL (the books count
-- net_pnl), nor stores more extra_metadata than readers are built for. No
-- lookup: closing a trade (the hot path) pays only these comparisons.
CREATE TRIGGER trades_rules_on_update
BEFORE UPDATE OF status, gross_pnl, net_pnl, extra_metadata ON trades
FOR EACH ROW WHEN (NEW.status = 'closed' AND (NEW.gross_pnl IS NULL OR NEW.net_pnl IS NULL)
        AND (OLD.status IS NOT 'closed' OR NEW.gross_pnl IS NOT OLD.gross_pnl OR NEW.net_pnl IS NOT OLD.net_pnl))
    OR (length(CAST(NEW.extra_metadata AS BLOB)) > 1048576 AND NEW.extra_metadata IS NOT OLD.extra_metadata)
BEGIN
    SELECT RAISE(ABORT, 'trades.extra_metadata: longer than 1048576 bytes of JSON text; store less')
    WHERE length(CAST(NEW.extra_metadata AS BLOB)) > 1048576 AND NEW.extra_metadata IS NOT OLD.extra_metadata;
    SELECT RAISE(ABORT, 'trades.gross_pnl: a closed trade needs its gross_pnl; close it with close_trade or give the value')
    WHERE NEW.gross_pnl IS NULL;
    SELECT RAISE(ABORT, 'trades.net_pnl: a closed trade needs its net_pnl; close it with close_trade or give the value');
END;

CREATE TRIGGER performance_metrics_bot_exists_on_insert
BEFORE INSERT ON performance_metrics
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM bot_instances WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'performance_metrics.bot_id: no such bot instance; create the bot first');
END;

CREATE TRIGGER performance_metrics_bot_exists_on_update
BEFORE UPDATE OF bot_id ON performance_metrics
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM bot_instances WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'performance_metrics.bot_id: no such bot instance; create the bot first');
END;

-- A bot with trades or metrics is kept (tradedb never deletes bots), and
-- its id never changes under them.
CREATE TRIGGER bot_instances_keep_referenced_on_delete
BEFORE DELETE ON bot_instances
FOR EACH ROW WHEN EXISTS (SELECT 1 FROM trades WHERE bot_id = OLD.id)
    OR EXISTS (SELECT 1 FROM performance_metrics WHERE bot_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'bot_instances: this bot has trades or metrics and cannot be deleted');
END;

CREATE TRIGGER bot_instances_keep_referenced_on_id_change
BEFORE UPDATE OF id ON bot_instances
FOR EACH ROW WHEN NEW.id IS NOT OLD.id AND (EXISTS (SELECT 1 FROM trades WHERE bot_id = OLD.id)
    OR EXISTS (SELECT 1 FROM performance_metrics WHERE bot_id = OLD.id))
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.id: this bot has trades or metrics; its id cannot change');
END;

-- updated_at changes on every update. tradedb sets it itself (to the
-- microsecond); these catch updates that do not, such as shell edits.
CREATE TRIGGER trades_touch_updated_at
AFTER UPDATE ON trades
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE trades SET updated_at = strftime('%Y-%m-%d %H:%M:%f000Z', 'now') WHERE id = NEW.id;
END;

CREATE TRIGGER bot_instances_touch_updated_at
AFTER UPDATE ON bot_instances
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE bot_instances SET updated_at = strftime('%Y-%m-%d %H:%M:%f000Z', 'now') WHERE id = NEW.id;
END;

CREATE TRIGGER bot_instances_rules_on_insert
BEFORE INSERT ON bot_instances
FOR EACH ROW WHEN length(CAST(NEW.extra_metadata AS BLOB)) > 1048576
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.extra_metadata: longer than 1048576 bytes of JSON text; store less');
END;

-- A bot's trades have its type, so the type of a bot with trades is fixed
-- (idx_bot_trade_type answers the lookup).
CREATE TRIGGER bot_instances_rules_on_update
BEFORE UPDATE OF type, extra_metadata ON bot_instances
FOR EACH ROW WHEN (NEW.type IS NOT OLD.type AND EXISTS (SELECT 1 FROM trades WHERE bot_id = OLD.id))
    OR (length(CAST(NEW.extra_metadata AS BLOB)) > 1048576 AND NEW.extra_metadata IS NOT OLD.extra_metadata)
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.type: this bot has trades of its type, so its type cannot change; start a bot with an id of its own')
    WHERE NEW.type IS NOT OLD.type AND EXISTS (SELECT 1 FROM trades WHERE bot_id = OLD.id);
    SELECT RAISE(ABORT, 'bot_instances.extra_metadata: longer than 1048576 bytes of JSON text; store less');
END;

CREATE TRIGGER performance_metrics_rules_on_insert
BEFORE INSERT ON performance_metrics
FOR EACH ROW WHEN length(CAST(NEW.extra_metadata AS BLOB)) > 1048576
BEGIN
    SELECT RAISE(ABORT, 'performance_metrics.extra_metadata: longer than 1048576 bytes of JSON text; store less');
END;

CREATE TRIGGER performance_metrics_rules_on_update
BEFORE UPDATE OF extra_metadata ON performance_metrics
FOR EACH ROW WHEN length(CAST(NEW.extra_metadata AS BLOB)) > 1048576 AND NEW.extra_metadata IS NOT OLD.extra_metadata
BEGIN
    SELECT RAISE(ABORT, 'performance_metrics.extra_metadata: longer than 1048576 bytes of JSON text; store less');
END;

-- closed_trade_stats (migration 0003): the closed trades counted and summed
-- per bot, UTC exit day, symbol and pnl_percentage bucket. Reports over all
-- history (the dashboard's daily PnL and distribution) read these few rows
-- instead of every trade; the triggers below keep the table equal to an
-- aggregate of the closed trades whoever writes them (tradedb, the sqlite3
-- shell). health(full=True) compares the two (closed_trade_stats_drift).
--
-- net_pnl_units is the sum of net_pnl in 10^-8 units, as in analytics.sql.
-- It is exact while it is an INTEGER and widest_amount is at most 19 (18
-- digits and the point: what CAST reads exactly). SQLite turns a + that
-- overflows 64 bits into REAL, and a REAL brought back into range by a later
-- subtraction would be stored as an INTEGER again, no longer exact; so an
-- overflow also raises widest_amount to at least 20, for good: readers then
-- sum that row's trades themselves (see upkeep.closed_trade_stats_drift).
CREATE TABLE closed_trade_stats (
    bot_id        TEXT NOT NULL,
    day           TEXT NOT NULL,     -- substr(exit_time, 1, 10): the UTC date of the exit, 'YYYY-MM-DD'
    symbol        TEXT NOT NULL,
    bucket        INTEGER NOT NULL,  -- pnl_percentage bucket (below); -1 when pnl_percentage IS NULL
    trades        INTEGER NOT NULL,  -- closed trades
    wins          INTEGER NOT NULL,  -- net_pnl > 0
    losses        INTEGER NOT NULL,  -- net_pnl < 0
    net_pnl_units INTEGER NOT NULL,  -- sum of net_pnl in 10^-8 units (NULL net_pnl adds 0); REAL past 64 bits
    widest_amount INTEGER NOT NULL,  -- longest net_pnl text ever added, at least 20 once the sum overflowed
    PRIMARY KEY (bot_id, day, symbol, bucket)
) WITHOUT ROWID;

-- One day across bots and symbols (the primary key serves a bot's days).
CREATE INDEX idx_closed_trade_stats_day ON closed_trade_stats (day);

-- Buckets of pnl_percentage (percent), edges -20, -10, -5, -3, -2, -1, -0.5,
-- 0, 0.5, 1, 2, 3, 5, 10, 20: bucket 0 below -20, bucket i from edge i - 1
-- up to (not including) edge i, bucket 15 from 20 up. The text has 4
-- decimals and every edge is exact in binary, so comparing as REAL is exact.
--
-- Only closed trades count, so inserting an open trade (the hot path) costs
-- one comparison. Adding is an upsert; taking out updates the row, then
-- deletes the rows of that bot, day and symbol left counting no trade (by
-- the primary key's first three columns: the bucket is not worked out twice).
CREATE TRIGGER closed_trade_stats_on_insert
AFTER INSERT ON trades
FOR EACH ROW WHEN NEW.status = 'closed'
BEGIN
    INSERT INTO closed_trade_stats (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units, widest_amount)
    VALUES (
        NEW.bot_id, substr(NEW.exit_time, 1, 10), NEW.symbol,
        CASE WHEN NEW.pnl_percentage IS NULL THEN -1
             WHEN CAST(NEW.pnl_percentage AS REAL) < -20 THEN 0
             WHEN CAST(NEW.pnl_percentage AS REAL) < -10 THEN 1
             WHEN CAST(NEW.pnl_percentage AS REAL) < -5 THEN 2
             WHEN CAST(NEW.pnl_percentage AS REAL) < -3 THEN 3
             WHEN CAST(NEW.pnl_percentage AS REAL) < -2 THEN 4
             WHEN CAST(NEW.pnl_percentage AS REAL) < -1 THEN 5
             WHEN CAST(NEW.pnl_percentage AS REAL) < -0.5 THEN 6
             WHEN CAST(NEW.pnl_percentage AS REAL) < 0 THEN 7
             WHEN CAST(NEW.pnl_percentage AS REAL) < 0.5 THEN 8
             WHEN CAST(NEW.pnl_percentage AS REAL) < 1 THEN 9
             WHEN CAST(NEW.pnl_percentage AS REAL) < 2 THEN 10
             WHEN CAST(NEW.pnl_percentage AS REAL) < 3 THEN 11
             WHEN CAST(NEW.pnl_percentage AS REAL) < 5 THEN 12
             WHEN CAST(NEW.pnl_percentage AS REAL) < 10 THEN 13
             WHEN CAST(NEW.pnl_percentage AS REAL) < 20 THEN 14
             ELSE 15 END,
        1,
        ifnull(CAST(replace(NEW.net_pnl, '.', '') AS INTEGER) > 0, 0),
        ifnull(CAST(replace(NEW.net_pnl, '.', '') AS INTEGER) < 0, 0),
        ifnull(CAST(replace(NEW.net_pnl, '.', '') AS INTEGER), 0),
        ifnull(length(NEW.net_pnl), 0))
    ON CONFLICT (bot_id, day, symbol, bucket) DO UPDATE SET
        trades = trades + 1,
        wins = wins + excluded.wins,
        losses = losses + excluded.losses,
        net_pnl_units = net_pnl_units + excluded.net_pnl_units,
        widest_amount = max(widest_amount, excluded.widest_amount,
                            CASE WHEN typeof(net_pnl_units + excluded.net_pnl_units) = 'integer' THEN 0 ELSE 20 END);
END;

-- A change to what a closed trade counts in (its bot, symbol, exit day,
-- bucket) or counts (net_pnl), or to its status: its old contribution out,
-- then its new one in. update_trade writes every column, so the WHEN
-- compares them; a change that moves nothing (an exit_reason, the time of
-- day of the exit) costs only the comparisons.
CREATE TRIGGER closed_trade_stats_on_update_out
AFTER UPDATE OF status, bot_id, symbol, exit_time, net_pnl, pnl_percentage ON trades
FOR EACH ROW WHEN OLD.status = 'closed'
    AND (NEW.status IS NOT OLD.status OR NEW.bot_id IS NOT OLD.bot_id OR NEW.symbol IS NOT OLD.symbol
         OR substr(NEW.exit_time, 1, 10) IS NOT substr(OLD.exit_time, 1, 10)
         OR NEW.net_pnl IS NOT OLD.net_pnl OR NEW.pnl_percentage IS NOT OLD.pnl_percentage)
BEGIN
    UPDATE closed_trade_stats SET
        trades = trades - 1,
        wins = wins - ifnull(CAST(replace(OLD.net_pnl, '.', '') AS INTEGER) > 0, 0),
        losses = losses - ifnull(CAST(replace(OLD.net_pnl, '.', '') AS INTEGER) < 0, 0),
        net_pnl_units = net_pnl_units - ifnull(CAST(replace(OLD.net_pnl, '.', '') AS INTEGER), 0),
        widest_amount = max(widest_amount, CASE
            WHEN typeof(net_pnl_units - ifnull(CAST(replace(OLD.net_pnl, '.', '') AS INTEGER), 0)) = 'integer' THEN 0
            ELSE 20 END)
    WHERE bot_id = OLD.bot_id AND day = substr(OLD.exit_time, 1, 10) AND symbol = OLD.symbol
      AND bucket = CASE WHEN OLD.pnl_percentage IS NULL THEN -1
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -20 THEN 0
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -10 THEN 1
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -5 THEN 2
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -3 THEN 3
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -2 THEN 4
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -1 THEN 5
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -0.5 THEN 6
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 0 THEN 7
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 0.5 THEN 8
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 1 THEN 9
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 2 THEN 10
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 3 THEN 11
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 5 THEN 12
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 10 THEN 13
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 20 THEN 14
                        ELSE 15 END;
    DELETE FROM closed_trade_stats
    WHERE bot_id = OLD.bot_id AND day = substr(OLD.exit_time, 1, 10) AND symbol = OLD.symbol AND trades = 0;
END;

CREATE TRIGGER closed_trade_stats_on_update_in
AFTER UPDATE OF status, bot_id, symbol, exit_time, net_pnl, pnl_percentage ON trades
FOR EACH ROW WHEN NEW.status = 'closed'
    AND (NEW.status IS NOT OLD.status OR NEW.bot_id IS NOT OLD.bot_id OR NEW.symbol IS NOT OLD.symbol
         OR substr(NEW.exit_time, 1, 10) IS NOT substr(OLD.exit_time, 1, 10)
         OR NEW.net_pnl IS NOT OLD.net_pnl OR NEW.pnl_percentage IS NOT OLD.pnl_percentage)
BEGIN
    INSERT INTO closed_trade_stats (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units, widest_amount)
    VALUES (
        NEW.bot_id, substr(NEW.exit_time, 1, 10), NEW.symbol,
        CASE WHEN NEW.pnl_percentage IS NULL THEN -1
             WHEN CAST(NEW.pnl_percentage AS REAL) < -20 THEN 0
             WHEN CAST(NEW.pnl_percentage AS REAL) < -10 THEN 1
             WHEN CAST(NEW.pnl_percentage AS REAL) < -5 THEN 2
             WHEN CAST(NEW.pnl_percentage AS REAL) < -3 THEN 3
             WHEN CAST(NEW.pnl_percentage AS REAL) < -2 THEN 4
             WHEN CAST(NEW.pnl_percentage AS REAL) < -1 THEN 5
             WHEN CAST(NEW.pnl_percentage AS REAL) < -0.5 THEN 6
             WHEN CAST(NEW.pnl_percentage AS REAL) < 0 THEN 7
             WHEN CAST(NEW.pnl_percentage AS REAL) < 0.5 THEN 8
             WHEN CAST(NEW.pnl_percentage AS REAL) < 1 THEN 9
             WHEN CAST(NEW.pnl_percentage AS REAL) < 2 THEN 10
             WHEN CAST(NEW.pnl_percentage AS REAL) < 3 THEN 11
             WHEN CAST(NEW.pnl_percentage AS REAL) < 5 THEN 12
             WHEN CAST(NEW.pnl_percentage AS REAL) < 10 THEN 13
             WHEN CAST(NEW.pnl_percentage AS REAL) < 20 THEN 14
             ELSE 15 END,
        1,
        ifnull(CAST(replace(NEW.net_pnl, '.', '') AS INTEGER) > 0, 0),
        ifnull(CAST(replace(NEW.net_pnl, '.', '') AS INTEGER) < 0, 0),
        ifnull(CAST(replace(NEW.net_pnl, '.', '') AS INTEGER), 0),
        ifnull(length(NEW.net_pnl), 0))
    ON CONFLICT (bot_id, day, symbol, bucket) DO UPDATE SET
        trades = trades + 1,
        wins = wins + excluded.wins,
        losses = losses + excluded.losses,
        net_pnl_units = net_pnl_units + excluded.net_pnl_units,
        widest_amount = max(widest_amount, excluded.widest_amount,
                            CASE WHEN typeof(net_pnl_units + excluded.net_pnl_units) = 'integer' THEN 0 ELSE 20 END);
END;

CREATE TRIGGER closed_trade_stats_on_delete
AFTER DELETE ON trades
FOR EACH ROW WHEN OLD.status = 'closed'
BEGIN
    UPDATE closed_trade_stats SET
        trades = trades - 1,
        wins = wins - ifnull(CAST(replace(OLD.net_pnl, '.', '') AS INTEGER) > 0, 0),
        losses = losses - ifnull(CAST(replace(OLD.net_pnl, '.', '') AS INTEGER) < 0, 0),
        net_pnl_units = net_pnl_units - ifnull(CAST(replace(OLD.net_pnl, '.', '') AS INTEGER), 0),
        widest_amount = max(widest_amount, CASE
            WHEN typeof(net_pnl_units - ifnull(CAST(replace(OLD.net_pnl, '.', '') AS INTEGER), 0)) = 'integer' THEN 0
            ELSE 20 END)
    WHERE bot_id = OLD.bot_id AND day = substr(OLD.exit_time, 1, 10) AND symbol = OLD.symbol
      AND bucket = CASE WHEN OLD.pnl_percentage IS NULL THEN -1
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -20 THEN 0
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -10 THEN 1
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -5 THEN 2
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -3 THEN 3
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -2 THEN 4
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -1 THEN 5
                        WHEN CAST(OLD.pnl_percentage AS REAL) < -0.5 THEN 6
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 0 THEN 7
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 0.5 THEN 8
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 1 THEN 9
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 2 THEN 10
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 3 THEN 11
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 5 THEN 12
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 10 THEN 13
                        WHEN CAST(OLD.pnl_percentage AS REAL) < 20 THEN 14
                        ELSE 15 END;
    DELETE FROM closed_trade_stats
    WHERE bot_id = OLD.bot_id AND day = substr(OLD.exit_time, 1, 10) AND symbol = OLD.symbol AND trades = 0;
END;

-- archived_pnl (migration 0004) is exact decimal text with 8 places, as total_pnl;
-- triggers hold its form (a CHECK added by ALTER TABLE makes SQLite run a
-- query whose empty result yoyo prints).
CREATE TRIGGER bot_instances_archived_pnl_on_insert
BEFORE INSERT ON bot_instances
FOR EACH ROW WHEN NOT ((NEW.archived_pnl GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR NEW.archived_pnl GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
         AND NEW.archived_pnl NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.archived_pnl: is not decimal text with 8 places, such as 0.00000000');
END;

CREATE TRIGGER bot_instances_archived_pnl_on_update
BEFORE UPDATE OF archived_pnl ON bot_instances
FOR EACH ROW WHEN NOT ((NEW.archived_pnl GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR NEW.archived_pnl GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
         AND NEW.archived_pnl NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.archived_pnl: is not decimal text with 8 places, such as 0.00000000');
END;

-- Views for people and dataframes: each table's columns in the same order,
-- every amount a number (REAL: approximate, for looking and charting; the
-- tables keep the exact text) and times the same UTC text. On them
-- `WHERE net_pnl > 5`, `ORDER BY net_pnl DESC`, max, min and sum compare
-- and add numbers, and pandas.read_sql gives float columns.
CREATE VIEW trades_view AS
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed,
       CAST(entry_price AS REAL) AS entry_price,
       CAST(exit_price AS REAL) AS exit_price,
       CAST(entry_value AS REAL) AS entry_value,
       CAST(exit_value AS REAL) AS exit_value,
       CAST(size AS REAL) AS size,
       CAST(commission AS REAL) AS commission,
       CAST(gross_pnl AS REAL) AS gross_pnl,
       CAST(net_pnl AS REAL) AS net_pnl,
       CAST(pnl_percentage AS REAL) AS pnl_percentage,
       direction, exit_reason, status, extra_metadata, created_at, updated_at
FROM trades;

CREATE VIEW bot_instances_view AS
SELECT id, type, config_file, status,
       CAST(current_balance AS REAL) AS current_balance,
       CAST(total_pnl AS REAL) AS total_pnl,
       started_at, last_heartbeat, extra_metadata, created_at, updated_at,
       CAST(archived_pnl AS REAL) AS archived_pnl
FROM bot_instances;

CREATE VIEW performance_metrics_view AS
SELECT id, bot_id,
       CAST(sharpe_ratio AS REAL) AS sharpe_ratio,
       CAST(profit_factor AS REAL) AS profit_factor,
       CAST(max_drawdown AS REAL) AS max_drawdown,
       CAST(total_return AS REAL) AS total_return,
       CAST(win_rate AS REAL) AS win_rate,
       total_trades, winning_trades, losing_trades,
       CAST(avg_win AS REAL) AS avg_win,
       CAST(avg_loss AS REAL) AS avg_loss,
       CAST(largest_win AS REAL) AS largest_win,
       CAST(largest_loss AS REAL) AS largest_loss,
       calculated_at, extra_metadata, created_at
FROM performance_metrics;
