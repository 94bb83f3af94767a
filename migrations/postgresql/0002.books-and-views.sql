-- Closed trades keep their PnL, a trade has its bot's type, extra_metadata
-- is at most 1 MiB of JSON text, and numeric views for psql and pandas.
-- depends: 0001.initial-schema

-- Unlike SQLite's 0002, this one checks the rows already stored: no
-- PostgreSQL database in the field predates it (both migrations came
-- together), and a row that breaks the foreign key below stops the
-- migration, which then leaves the database as it was. The query in
-- migrations/0002.books-and-views.sql finds such rows.

-- A trade has its bot's type: the foreign key covers (bot_id, trade_type).
-- A trigger alone could not hold this between sessions (it does not see a
-- trade not yet committed while another session changes its bot's type);
-- the key lock the foreign key takes makes the two wait for each other, and
-- changing the type of a bot with trades changes a referenced key, which
-- RESTRICT refuses.
ALTER TABLE bot_instances ADD CONSTRAINT bot_instances_id_type_key UNIQUE (id, type);
ALTER TABLE trades DROP CONSTRAINT trades_bot_id_fkey;
ALTER TABLE trades ADD CONSTRAINT trades_bot_id_fkey FOREIGN KEY (bot_id, trade_type)
    REFERENCES bot_instances (id, type) ON DELETE RESTRICT ON UPDATE RESTRICT;

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
       started_at, last_heartbeat, extra_metadata, created_at, updated_at
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
