-- tradedb on PostgreSQL: the current schema, readable in one place.
--
-- This file is what applying every migration in migrations/postgresql/
-- produces; a test (tests/test_postgresql_schema.py) fails if the two drift
-- apart. Change the schema by adding a migration (with the same id as its
-- SQLite twin in migrations/), then update this file to match.
--
-- The rules are SQLite's (sql/schema.sql), under the same constraint names,
-- held by PostgreSQL's own types where it has them:
--
-- * Money and ratios are NUMERIC: exact. Prices and size, which callers fill,
--   are NUMERIC(20,8), like tradedb's DECIMAL(20,8): at most 12 integer
--   digits. Values, commission, PnL, balances and metrics are computed or
--   summed by tradedb, which never refuses them for their size (a trade can
--   always be closed; SQLite leaves them unbounded), so they keep their
--   scale, 8 or 4, with the most integer digits PostgreSQL lets a column
--   declare: NUMERIC(1000,8), NUMERIC(1000,4). win_rate is NUMERIC(5,2).
--   The types refuse infinity and round a value typed with more decimals
--   to their scale (tradedb itself sends values already rounded, half-even);
--   the *_decimal CHECKs refuse NaN, which NUMERIC also holds, and, where
--   SQLite does, negative values.
-- * Times are TIMESTAMPTZ: an instant, whatever the session's time zone
--   (psql shows it in that zone; set TimeZone to UTC to see UTC). The *_utc
--   CHECKs keep them within years 1 to 9999, what Python's datetime (and
--   SQLite's text form) can hold, so every stored time can be read back.
-- * Trade and metrics ids are UUID: the type refuses any other text (SQLite's
--   *_id_uuid CHECKs) and always reads back lowercase and hyphenated, the
--   API's form.
-- * extra_metadata is JSONB: the type refuses text that is not JSON
--   (SQLite's *_extra_metadata_json CHECKs); a trigger keeps it at most
--   1048576 bytes of JSON text.
-- * Foreign keys are real and RESTRICT: a bot with trades or metrics can be
--   neither deleted nor renamed.
-- * Rules a CHECK cannot hold are triggers that raise SQLite's message
--   (`table.column: reason`) with the rule's name as the error's constraint.
--
-- The views at the end show every amount as double precision, for psql and
-- pandas: the same SQL and dataframe code work on both backends.

CREATE TABLE bot_instances (
    id              TEXT PRIMARY KEY,
    type            TEXT NOT NULL,
    config_file     TEXT,
    status          TEXT NOT NULL DEFAULT 'running',
    current_balance NUMERIC(1000,8),
    total_pnl       NUMERIC(1000,8) NOT NULL DEFAULT 0,
    started_at      TIMESTAMPTZ,
    last_heartbeat  TIMESTAMPTZ,
    extra_metadata  JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Migration 0004: the net_pnl of the bot's closed trades that retention took out of this
    -- database. total_pnl is the sum of the closed trades' net_pnl here, plus archived_pnl.
    archived_pnl    NUMERIC(1000,8) NOT NULL DEFAULT 0,

    CONSTRAINT bot_instances_id_not_empty CHECK (length(id) BETWEEN 1 AND 255),
    CONSTRAINT bot_instances_type_known CHECK (type IN ('paper', 'live', 'optimization')),
    CONSTRAINT bot_instances_status_known CHECK (status IN ('running', 'stopped', 'error')),
    CONSTRAINT bot_instances_current_balance_decimal CHECK (current_balance <> 'NaN'),
    CONSTRAINT bot_instances_total_pnl_decimal CHECK (total_pnl <> 'NaN'),
    CONSTRAINT bot_instances_archived_pnl_decimal CHECK (archived_pnl <> 'NaN'),
    CONSTRAINT bot_instances_started_at_utc CHECK (started_at BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT bot_instances_last_heartbeat_utc CHECK (last_heartbeat BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT bot_instances_created_at_utc CHECK (created_at BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT bot_instances_updated_at_utc CHECK (updated_at BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    -- What trades' foreign key references: a bot and its type.
    CONSTRAINT bot_instances_id_type_key UNIQUE (id, type)
);

-- A bot with trades or metrics can be neither deleted nor renamed: the
-- foreign keys RESTRICT both.
CREATE TABLE trades (
    id                 UUID PRIMARY KEY,
    bot_id             TEXT NOT NULL,
    trade_type         TEXT NOT NULL,
    strategy_name      TEXT,
    entry_logic_name   TEXT NOT NULL,
    exit_logic_name    TEXT NOT NULL,
    symbol             TEXT NOT NULL,
    interval           TEXT NOT NULL,
    entry_time         TIMESTAMPTZ,
    exit_time          TIMESTAMPTZ,
    buy_order_created  TIMESTAMPTZ,
    buy_order_closed   TIMESTAMPTZ,
    sell_order_created TIMESTAMPTZ,
    sell_order_closed  TIMESTAMPTZ,
    entry_price        NUMERIC(20,8),
    exit_price         NUMERIC(20,8),
    entry_value        NUMERIC(1000,8),
    exit_value         NUMERIC(1000,8),
    size               NUMERIC(20,8),
    commission         NUMERIC(1000,8),
    gross_pnl          NUMERIC(1000,8),
    net_pnl            NUMERIC(1000,8),
    pnl_percentage     NUMERIC(1000,4),
    direction          TEXT NOT NULL,
    exit_reason        TEXT,
    status             TEXT NOT NULL DEFAULT 'open',
    extra_metadata     JSONB,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),

    -- The bot exists and the trade has its type (see the triggers below).
    CONSTRAINT trades_bot_id_fkey FOREIGN KEY (bot_id, trade_type) REFERENCES bot_instances (id, type)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    CONSTRAINT trades_trade_type_known CHECK (trade_type IN ('paper', 'live', 'optimization')),
    CONSTRAINT trades_direction_known CHECK (direction IN ('long', 'short')),
    CONSTRAINT trades_status_known CHECK (status IN ('open', 'closed', 'cancelled')),
    CONSTRAINT trades_names_not_empty CHECK (
        entry_logic_name <> '' AND exit_logic_name <> '' AND symbol <> '' AND interval <> ''),
    CONSTRAINT trades_closed_has_exit CHECK (
        status <> 'closed' OR (exit_time IS NOT NULL AND exit_price IS NOT NULL)),
    CONSTRAINT trades_exit_after_entry CHECK (exit_time >= entry_time),
    CONSTRAINT trades_entry_time_utc CHECK (entry_time BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT trades_exit_time_utc CHECK (exit_time BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT trades_buy_order_created_utc CHECK (buy_order_created BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT trades_buy_order_closed_utc CHECK (buy_order_closed BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT trades_sell_order_created_utc CHECK (sell_order_created BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT trades_sell_order_closed_utc CHECK (sell_order_closed BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT trades_entry_price_decimal CHECK (entry_price >= 0 AND entry_price <> 'NaN'),
    CONSTRAINT trades_exit_price_decimal CHECK (exit_price >= 0 AND exit_price <> 'NaN'),
    CONSTRAINT trades_size_decimal CHECK (size >= 0 AND size <> 'NaN'),
    CONSTRAINT trades_entry_value_decimal CHECK (entry_value >= 0 AND entry_value <> 'NaN'),
    CONSTRAINT trades_exit_value_decimal CHECK (exit_value >= 0 AND exit_value <> 'NaN'),
    CONSTRAINT trades_commission_decimal CHECK (commission >= 0 AND commission <> 'NaN'),
    CONSTRAINT trades_gross_pnl_decimal CHECK (gross_pnl <> 'NaN'),
    CONSTRAINT trades_net_pnl_decimal CHECK (net_pnl <> 'NaN'),
    CONSTRAINT trades_pnl_percentage_decimal CHECK (pnl_percentage <> 'NaN'),
    CONSTRAINT trades_created_at_utc CHECK (created_at BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT trades_updated_at_utc CHECK (updated_at BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z')
);

CREATE TABLE performance_metrics (
    id             UUID PRIMARY KEY,
    bot_id         TEXT NOT NULL,
    sharpe_ratio   NUMERIC(1000,4),
    profit_factor  NUMERIC(1000,4),
    max_drawdown   NUMERIC(1000,4),
    total_return   NUMERIC(1000,4),
    win_rate       NUMERIC(5,2),
    total_trades   BIGINT,
    winning_trades BIGINT,
    losing_trades  BIGINT,
    avg_win        NUMERIC(1000,8),
    avg_loss       NUMERIC(1000,8),
    largest_win    NUMERIC(1000,8),
    largest_loss   NUMERIC(1000,8),
    calculated_at  TIMESTAMPTZ,
    extra_metadata JSONB,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT performance_metrics_bot_id_fkey FOREIGN KEY (bot_id) REFERENCES bot_instances (id)
        ON DELETE RESTRICT ON UPDATE RESTRICT,
    CONSTRAINT performance_metrics_sharpe_ratio_decimal CHECK (sharpe_ratio <> 'NaN'),
    CONSTRAINT performance_metrics_profit_factor_decimal CHECK (profit_factor <> 'NaN'),
    CONSTRAINT performance_metrics_max_drawdown_decimal CHECK (max_drawdown <> 'NaN'),
    CONSTRAINT performance_metrics_total_return_decimal CHECK (total_return <> 'NaN'),
    -- A percentage: 0.00 to 100.00 (NaN sorts above 100, so it is refused too).
    CONSTRAINT performance_metrics_win_rate_percent CHECK (win_rate BETWEEN 0 AND 100),
    CONSTRAINT performance_metrics_counts_not_negative CHECK (
        total_trades >= 0 AND winning_trades >= 0 AND losing_trades >= 0),
    CONSTRAINT performance_metrics_avg_win_decimal CHECK (avg_win <> 'NaN'),
    CONSTRAINT performance_metrics_avg_loss_decimal CHECK (avg_loss <> 'NaN'),
    CONSTRAINT performance_metrics_largest_win_decimal CHECK (largest_win <> 'NaN'),
    CONSTRAINT performance_metrics_largest_loss_decimal CHECK (largest_loss <> 'NaN'),
    CONSTRAINT performance_metrics_calculated_at_utc CHECK (calculated_at BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z'),
    CONSTRAINT performance_metrics_created_at_utc CHECK (created_at BETWEEN '0001-01-01 00:00:00Z' AND '9999-12-31 23:59:59.999999Z')
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
CREATE INDEX idx_closed_trades_net_pnl ON trades (net_pnl, id) WHERE status = 'closed';
CREATE INDEX idx_closed_trades_pnl_percentage ON trades (pnl_percentage, id) WHERE status = 'closed';
-- All bots' trades by exit: history pages and retention.
CREATE INDEX idx_exit_time ON trades (exit_time);
CREATE INDEX idx_metrics_bot ON performance_metrics (bot_id, calculated_at);

-- A trade leaves 'open' once, for 'closed' or 'cancelled', and never moves
-- again; this holds for edits made in psql too. The error carries the rule's
-- name and SQLite's message, so one translator serves both backends.
CREATE FUNCTION trades_status_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'trades.status: a closed or cancelled trade cannot change status'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'trades_status_transition',
              TABLE = 'trades', COLUMN = 'status';
END
$$;

CREATE TRIGGER trades_status_transition
BEFORE UPDATE OF status ON trades
FOR EACH ROW WHEN (OLD.status <> NEW.status AND OLD.status <> 'open')
EXECUTE FUNCTION trades_status_transition();

-- updated_at changes on every update. tradedb sets it itself; these catch
-- updates that do not, such as psql edits. clock_timestamp(), not now(): a
-- row written and edited in one transaction still gets a later time.
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;

CREATE TRIGGER trades_touch_updated_at
BEFORE UPDATE ON trades
FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
EXECUTE FUNCTION touch_updated_at();

CREATE TRIGGER bot_instances_touch_updated_at
BEFORE UPDATE ON bot_instances
FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
EXECUTE FUNCTION touch_updated_at();

-- The triggers below refuse a row before the foreign key does, with SQLite's
-- message (`table.column: reason`) and the rule's name as the constraint, so
-- one error translator serves both backends. A trade of a bot that does not
-- exist is left to the foreign key.
CREATE FUNCTION trades_trade_type_of_bot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.trade_type <> (SELECT type FROM bot_instances WHERE id = NEW.bot_id) THEN
        RAISE EXCEPTION 'trades.trade_type: is not the type of its bot; a bot''s trades have its type (paper, live or optimization)'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'trades_trade_type_of_bot',
                  TABLE = 'trades', COLUMN = 'trade_type';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trades_trade_type_of_bot_on_insert
BEFORE INSERT ON trades
FOR EACH ROW EXECUTE FUNCTION trades_trade_type_of_bot();

CREATE TRIGGER trades_trade_type_of_bot_on_update
BEFORE UPDATE OF bot_id, trade_type ON trades
FOR EACH ROW WHEN (NEW.bot_id <> OLD.bot_id OR NEW.trade_type <> OLD.trade_type)
EXECUTE FUNCTION trades_trade_type_of_bot();

-- A bot's trades have its type, so the type of a bot with trades is fixed
-- (idx_bot_trade_type answers the lookup).
CREATE FUNCTION bot_instances_type_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM trades WHERE bot_id = OLD.id) THEN
        RAISE EXCEPTION 'bot_instances.type: this bot has trades of its type, so its type cannot change; start a bot with an id of its own'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'bot_instances_type_fixed',
                  TABLE = 'bot_instances', COLUMN = 'type';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER bot_instances_type_fixed
BEFORE UPDATE OF type ON bot_instances
FOR EACH ROW WHEN (NEW.type <> OLD.type)
EXECUTE FUNCTION bot_instances_type_fixed();

-- A write never leaves a closed trade without its PnL: the bot's books
-- count net_pnl.
CREATE FUNCTION trades_closed_has_pnl() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.gross_pnl IS NULL THEN
        RAISE EXCEPTION 'trades.gross_pnl: a closed trade needs its gross_pnl; close it with close_trade or give the value'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'trades_closed_has_pnl',
                  TABLE = 'trades', COLUMN = 'gross_pnl';
    END IF;
    RAISE EXCEPTION 'trades.net_pnl: a closed trade needs its net_pnl; close it with close_trade or give the value'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'trades_closed_has_pnl',
              TABLE = 'trades', COLUMN = 'net_pnl';
END
$$;

CREATE TRIGGER trades_closed_has_pnl
BEFORE INSERT OR UPDATE OF status, gross_pnl, net_pnl ON trades
FOR EACH ROW WHEN (NEW.status = 'closed' AND (NEW.gross_pnl IS NULL OR NEW.net_pnl IS NULL))
EXECUTE FUNCTION trades_closed_has_pnl();

-- extra_metadata is at most 1048576 bytes of JSON text, on every table:
-- no more than readers are built for. Measured as JSONB's own text form,
-- the one psql shows and clients read.
CREATE FUNCTION extra_metadata_size() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF octet_length(NEW.extra_metadata::text) > 1048576 THEN
        RAISE EXCEPTION '%.extra_metadata: longer than 1048576 bytes of JSON text; store less', TG_TABLE_NAME
            USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_extra_metadata_size',
                  TABLE = TG_TABLE_NAME, COLUMN = 'extra_metadata';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trades_extra_metadata_size
BEFORE INSERT OR UPDATE OF extra_metadata ON trades
FOR EACH ROW WHEN (NEW.extra_metadata IS NOT NULL)
EXECUTE FUNCTION extra_metadata_size();

CREATE TRIGGER bot_instances_extra_metadata_size
BEFORE INSERT OR UPDATE OF extra_metadata ON bot_instances
FOR EACH ROW WHEN (NEW.extra_metadata IS NOT NULL)
EXECUTE FUNCTION extra_metadata_size();

CREATE TRIGGER performance_metrics_extra_metadata_size
BEFORE INSERT OR UPDATE OF extra_metadata ON performance_metrics
FOR EACH ROW WHEN (NEW.extra_metadata IS NOT NULL)
EXECUTE FUNCTION extra_metadata_size();

-- closed_trade_stats (migration 0003): the closed trades counted and summed
-- per bot, UTC exit day, symbol and pnl_percentage bucket. Reports over all
-- history (the dashboard's daily PnL and distribution) read these few rows
-- instead of every trade; the triggers below keep the table equal to an
-- aggregate of the closed trades whoever writes them (tradedb, psql).
-- health(full=True) compares the two (closed_trade_stats_drift). SQLite's
-- twin sums 10^-8 units in 64 bits; NUMERIC sums net_pnl exactly at any size.
CREATE TABLE closed_trade_stats (
    bot_id  TEXT NOT NULL,
    day     DATE NOT NULL,     -- the UTC date of exit_time
    symbol  TEXT NOT NULL,
    bucket  INTEGER NOT NULL,  -- pnl_percentage bucket (closed_trade_stats_bucket); -1 when pnl_percentage IS NULL
    trades  INTEGER NOT NULL,  -- closed trades
    wins    INTEGER NOT NULL,  -- net_pnl > 0
    losses  INTEGER NOT NULL,  -- net_pnl < 0
    net_pnl NUMERIC NOT NULL,  -- sum of net_pnl (NULL net_pnl adds 0)

    CONSTRAINT closed_trade_stats_pkey PRIMARY KEY (bot_id, day, symbol, bucket)
);

-- One day across bots and symbols (the primary key serves a bot's days).
CREATE INDEX idx_closed_trade_stats_day ON closed_trade_stats (day);

-- Buckets of pnl_percentage (percent), edges -20, -10, -5, -3, -2, -1, -0.5,
-- 0, 0.5, 1, 2, 3, 5, 10, 20: bucket 0 below -20, bucket i from edge i - 1
-- up to (not including) edge i, bucket 15 from 20 up; width_bucket numbers
-- them so, exactly (NUMERIC). A plain SQL function: the planner inlines it.
CREATE FUNCTION closed_trade_stats_bucket(pnl_percentage NUMERIC) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(width_bucket(pnl_percentage, '{-20,-10,-5,-3,-2,-1,-0.5,0,0.5,1,2,3,5,10,20}'::numeric[]), -1)
$$;

-- A closed trade's contribution in (sign 1) or out (sign -1). Adding is an
-- upsert; taking out updates the row and deletes it when it counts no trade
-- any more. Both run inside the trade's own write, after the trade's row is
-- locked and before its bot's books are (tradedb's order: trade, then bot).
CREATE FUNCTION closed_trade_stats_count(
    of_bot TEXT, exited TIMESTAMPTZ, of_symbol TEXT, pnl_percentage NUMERIC, amount NUMERIC, sign INTEGER
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    left_over INTEGER;
BEGIN
    IF sign > 0 THEN
        INSERT INTO closed_trade_stats AS s (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl)
        VALUES (of_bot, (exited AT TIME ZONE 'UTC')::date, of_symbol, closed_trade_stats_bucket(pnl_percentage), 1,
                CASE WHEN amount > 0 THEN 1 ELSE 0 END, CASE WHEN amount < 0 THEN 1 ELSE 0 END, coalesce(amount, 0))
        ON CONFLICT ON CONSTRAINT closed_trade_stats_pkey DO UPDATE SET
            trades = s.trades + 1,
            wins = s.wins + excluded.wins,
            losses = s.losses + excluded.losses,
            net_pnl = s.net_pnl + excluded.net_pnl;
    ELSE
        UPDATE closed_trade_stats AS s SET
            trades = s.trades - 1,
            wins = s.wins - CASE WHEN amount > 0 THEN 1 ELSE 0 END,
            losses = s.losses - CASE WHEN amount < 0 THEN 1 ELSE 0 END,
            net_pnl = s.net_pnl - coalesce(amount, 0)
        WHERE s.bot_id = of_bot AND s.day = (exited AT TIME ZONE 'UTC')::date AND s.symbol = of_symbol
          AND s.bucket = closed_trade_stats_bucket(pnl_percentage)
        RETURNING s.trades INTO left_over;
        IF left_over = 0 THEN
            DELETE FROM closed_trade_stats AS s
            WHERE s.bot_id = of_bot AND s.day = (exited AT TIME ZONE 'UTC')::date AND s.symbol = of_symbol
              AND s.bucket = closed_trade_stats_bucket(pnl_percentage) AND s.trades = 0;
        END IF;
    END IF;
END
$$;

-- The row trigger of 0003's (its function stays, for 0005's rollback).
CREATE FUNCTION closed_trade_stats_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM closed_trade_stats_count(NEW.bot_id, NEW.exit_time, NEW.symbol, NEW.pnl_percentage, NEW.net_pnl, 1);
    RETURN NULL;
END
$$;

-- An INSERT's new closed trades are counted once per statement, from its
-- transition table (migration 0005): bulk loads upsert each (bot, day,
-- symbol, bucket) once, in key order, so two transactions loading the same
-- days lock the rows they share in the same order. The transition table
-- holds only the rows the INSERT inserted (not those ON CONFLICT skipped).
CREATE FUNCTION closed_trade_stats_on_insert_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO closed_trade_stats AS s (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl)
    SELECT bot_id, (exit_time AT TIME ZONE 'UTC')::date, symbol, closed_trade_stats_bucket(pnl_percentage),
           count(*), count(*) FILTER (WHERE net_pnl > 0), count(*) FILTER (WHERE net_pnl < 0),
           coalesce(sum(net_pnl), 0)
    FROM inserted
    WHERE status = 'closed'
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT ON CONSTRAINT closed_trade_stats_pkey DO UPDATE SET
        trades = s.trades + excluded.trades,
        wins = s.wins + excluded.wins,
        losses = s.losses + excluded.losses,
        net_pnl = s.net_pnl + excluded.net_pnl;
    RETURN NULL;
END
$$;

-- Out and in, the lower key first whatever the move: two transactions that
-- move trades between the same two rows in opposite directions then lock
-- them in the same order, and never wait on each other in a circle.
CREATE FUNCTION closed_trade_stats_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'closed' AND NEW.status = 'closed'
       AND (NEW.bot_id, (NEW.exit_time AT TIME ZONE 'UTC')::date, NEW.symbol, closed_trade_stats_bucket(NEW.pnl_percentage))
         < (OLD.bot_id, (OLD.exit_time AT TIME ZONE 'UTC')::date, OLD.symbol, closed_trade_stats_bucket(OLD.pnl_percentage)) THEN
        PERFORM closed_trade_stats_count(NEW.bot_id, NEW.exit_time, NEW.symbol, NEW.pnl_percentage, NEW.net_pnl, 1);
        PERFORM closed_trade_stats_count(OLD.bot_id, OLD.exit_time, OLD.symbol, OLD.pnl_percentage, OLD.net_pnl, -1);
        RETURN NULL;
    END IF;
    IF OLD.status = 'closed' THEN
        PERFORM closed_trade_stats_count(OLD.bot_id, OLD.exit_time, OLD.symbol, OLD.pnl_percentage, OLD.net_pnl, -1);
    END IF;
    IF NEW.status = 'closed' THEN
        PERFORM closed_trade_stats_count(NEW.bot_id, NEW.exit_time, NEW.symbol, NEW.pnl_percentage, NEW.net_pnl, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION closed_trade_stats_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM closed_trade_stats_count(OLD.bot_id, OLD.exit_time, OLD.symbol, OLD.pnl_percentage, OLD.net_pnl, -1);
    RETURN NULL;
END
$$;

-- TRUNCATE trades fires no row trigger: the table empties with it.
CREATE FUNCTION closed_trade_stats_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE closed_trade_stats;
    RETURN NULL;
END
$$;

CREATE TRIGGER closed_trade_stats_on_insert_statement
AFTER INSERT ON trades
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION closed_trade_stats_on_insert_statement();

-- Only closed trades count. update_trade writes every column, so the WHEN
-- compares them: a change that moves nothing (an exit_reason, the time of
-- day of the exit) costs only the comparisons.

CREATE TRIGGER closed_trade_stats_on_update
AFTER UPDATE OF status, bot_id, symbol, exit_time, net_pnl, pnl_percentage ON trades
FOR EACH ROW WHEN ((OLD.status = 'closed' OR NEW.status = 'closed')
    AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.bot_id IS DISTINCT FROM OLD.bot_id
         OR NEW.symbol IS DISTINCT FROM OLD.symbol OR NEW.net_pnl IS DISTINCT FROM OLD.net_pnl
         OR (NEW.exit_time AT TIME ZONE 'UTC')::date IS DISTINCT FROM (OLD.exit_time AT TIME ZONE 'UTC')::date
         OR NEW.pnl_percentage IS DISTINCT FROM OLD.pnl_percentage))
EXECUTE FUNCTION closed_trade_stats_on_update();

CREATE TRIGGER closed_trade_stats_on_delete
AFTER DELETE ON trades
FOR EACH ROW WHEN (OLD.status = 'closed')
EXECUTE FUNCTION closed_trade_stats_on_delete();

CREATE TRIGGER closed_trade_stats_on_truncate
AFTER TRUNCATE ON trades
FOR EACH STATEMENT EXECUTE FUNCTION closed_trade_stats_on_truncate();

-- Live changes: after every statement that writes trades, bot_instances or
-- performance_metrics, a notification on channel tradedb_changes, its
-- payload the table's name. Listeners (the dashboard) get it when the
-- transaction commits, never before, and once per table per transaction
-- (PostgreSQL folds identical notifications of one transaction).
CREATE FUNCTION notify_tradedb_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tradedb_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER trades_notify_changes
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trades
FOR EACH STATEMENT EXECUTE FUNCTION notify_tradedb_changes();

CREATE TRIGGER bot_instances_notify_changes
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bot_instances
FOR EACH STATEMENT EXECUTE FUNCTION notify_tradedb_changes();

CREATE TRIGGER performance_metrics_notify_changes
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON performance_metrics
FOR EACH STATEMENT EXECUTE FUNCTION notify_tradedb_changes();

-- Views for people and dataframes, as on SQLite: each table's columns in
-- the same order, every amount a double precision number (approximate, for
-- looking and charting; the tables keep the exact NUMERIC). The same SQL
-- then works on both backends, and pandas.read_sql gives float columns
-- rather than Decimal objects. Times stay TIMESTAMPTZ: they compare with
-- the same literals ('2024-03-01') as SQLite's UTC text does.
CREATE VIEW trades_view AS
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed,
       CAST(entry_price AS double precision) AS entry_price,
       CAST(exit_price AS double precision) AS exit_price,
       CAST(entry_value AS double precision) AS entry_value,
       CAST(exit_value AS double precision) AS exit_value,
       CAST(size AS double precision) AS size,
       CAST(commission AS double precision) AS commission,
       CAST(gross_pnl AS double precision) AS gross_pnl,
       CAST(net_pnl AS double precision) AS net_pnl,
       CAST(pnl_percentage AS double precision) AS pnl_percentage,
       direction, exit_reason, status, extra_metadata, created_at, updated_at
FROM trades;

CREATE VIEW bot_instances_view AS
SELECT id, type, config_file, status,
       CAST(current_balance AS double precision) AS current_balance,
       CAST(total_pnl AS double precision) AS total_pnl,
       started_at, last_heartbeat, extra_metadata, created_at, updated_at,
       CAST(archived_pnl AS double precision) AS archived_pnl
FROM bot_instances;

CREATE VIEW performance_metrics_view AS
SELECT id, bot_id,
       CAST(sharpe_ratio AS double precision) AS sharpe_ratio,
       CAST(profit_factor AS double precision) AS profit_factor,
       CAST(max_drawdown AS double precision) AS max_drawdown,
       CAST(total_return AS double precision) AS total_return,
       CAST(win_rate AS double precision) AS win_rate,
       total_trades, winning_trades, losing_trades,
       CAST(avg_win AS double precision) AS avg_win,
       CAST(avg_loss AS double precision) AS avg_loss,
       CAST(largest_win AS double precision) AS largest_win,
       CAST(largest_loss AS double precision) AS largest_loss,
       calculated_at, extra_metadata, created_at
FROM performance_metrics;
