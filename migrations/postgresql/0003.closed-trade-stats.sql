-- closed_trade_stats: the closed trades counted and summed per bot, UTC exit
-- day, symbol and pnl_percentage bucket, kept by triggers on trades; and a
-- notification on channel tradedb_changes after every write to a table.
-- depends: 0002.books-and-views

-- Reports over all history (the dashboard's daily PnL and distribution)
-- read these few rows instead of every trade. Triggers keep the table equal
-- to an aggregate of the closed trades whoever writes them (tradedb, psql),
-- and the rows already stored are counted below. SQLite's twin sums 10^-8
-- units in 64 bits; NUMERIC sums net_pnl exactly at any size.
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

CREATE FUNCTION closed_trade_stats_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM closed_trade_stats_count(NEW.bot_id, NEW.exit_time, NEW.symbol, NEW.pnl_percentage, NEW.net_pnl, 1);
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

-- Only closed trades count, so inserting an open trade (the hot path) costs
-- one comparison and no call. update_trade writes every column, so the WHEN
-- compares them: a change that moves nothing (an exit_reason, the time of
-- day of the exit) costs only the comparisons.
CREATE TRIGGER closed_trade_stats_on_insert
AFTER INSERT ON trades
FOR EACH ROW WHEN (NEW.status = 'closed')
EXECUTE FUNCTION closed_trade_stats_on_insert();

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

-- The closed trades already stored (the triggers above hold trades' lock
-- from their creation, so none is written meanwhile).
INSERT INTO closed_trade_stats (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl)
SELECT bot_id, (exit_time AT TIME ZONE 'UTC')::date, symbol, closed_trade_stats_bucket(pnl_percentage),
       count(*), count(*) FILTER (WHERE net_pnl > 0), count(*) FILTER (WHERE net_pnl < 0), coalesce(sum(net_pnl), 0)
FROM trades
WHERE status = 'closed'
GROUP BY 1, 2, 3, 4;
