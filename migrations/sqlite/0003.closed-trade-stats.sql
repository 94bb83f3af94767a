-- closed_trade_stats: the closed trades counted and summed per bot, UTC exit
-- day, symbol and pnl_percentage bucket, kept by triggers on trades.
-- depends: 0002.books-and-views

-- Reports over all history (the dashboard's daily PnL and distribution)
-- read these few rows instead of every trade. Triggers keep the table equal
-- to an aggregate of the closed trades whoever writes them (tradedb, the
-- sqlite3 shell), and the rows already stored are counted below.
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

-- The closed trades already stored. sum() would fail on a sum past 64 bits,
-- so each amount is split into its 10^9s and the rest, summed apart (neither
-- sum can overflow), and joined with * and +, which turn an overflow into
-- REAL as the triggers' + does (and mark the row the same way).
INSERT INTO closed_trade_stats (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units, widest_amount)
SELECT bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units,
       CASE WHEN typeof(net_pnl_units) = 'integer' THEN widest_amount ELSE max(widest_amount, 20) END
FROM (
    SELECT bot_id, day, symbol, bucket, count(*) AS trades, sum(units > 0) AS wins, sum(units < 0) AS losses,
           sum(units / 1000000000) * 1000000000 + sum(units % 1000000000) AS net_pnl_units,
           max(width) AS widest_amount
    FROM (
        SELECT bot_id, substr(exit_time, 1, 10) AS day, symbol,
               CASE WHEN pnl_percentage IS NULL THEN -1
                    WHEN CAST(pnl_percentage AS REAL) < -20 THEN 0
                    WHEN CAST(pnl_percentage AS REAL) < -10 THEN 1
                    WHEN CAST(pnl_percentage AS REAL) < -5 THEN 2
                    WHEN CAST(pnl_percentage AS REAL) < -3 THEN 3
                    WHEN CAST(pnl_percentage AS REAL) < -2 THEN 4
                    WHEN CAST(pnl_percentage AS REAL) < -1 THEN 5
                    WHEN CAST(pnl_percentage AS REAL) < -0.5 THEN 6
                    WHEN CAST(pnl_percentage AS REAL) < 0 THEN 7
                    WHEN CAST(pnl_percentage AS REAL) < 0.5 THEN 8
                    WHEN CAST(pnl_percentage AS REAL) < 1 THEN 9
                    WHEN CAST(pnl_percentage AS REAL) < 2 THEN 10
                    WHEN CAST(pnl_percentage AS REAL) < 3 THEN 11
                    WHEN CAST(pnl_percentage AS REAL) < 5 THEN 12
                    WHEN CAST(pnl_percentage AS REAL) < 10 THEN 13
                    WHEN CAST(pnl_percentage AS REAL) < 20 THEN 14
                    ELSE 15 END AS bucket,
               ifnull(CAST(replace(net_pnl, '.', '') AS INTEGER), 0) AS units,
               ifnull(length(net_pnl), 0) AS width
        FROM trades
        WHERE status = 'closed'
    )
    GROUP BY bot_id, day, symbol, bucket
);
