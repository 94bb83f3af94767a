-- closed_trade_stats counts the closed trades an INSERT adds once per
-- statement, from its transition table, instead of once per row.
-- depends: 0004.archived-pnl

-- The row trigger of 0003 ran a PL/pgSQL function and an upsert for each
-- closed trade: about a fifth of the server's time when create_trades or
-- tradedb copy loads history (bench W1; README, Performance). This one
-- aggregates the statement's new closed trades and upserts each
-- (bot, day, symbol, bucket) once, in key order, so two transactions loading
-- the same days lock the rows they share in the same order. An INSERT's
-- transition table holds only the rows it inserted (not those ON CONFLICT
-- skipped or updated; an update fires closed_trade_stats_on_update). Updates
-- and deletes keep their row triggers: they come one trade at a time.
DROP TRIGGER closed_trade_stats_on_insert ON trades;

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

CREATE TRIGGER closed_trade_stats_on_insert_statement
AFTER INSERT ON trades
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION closed_trade_stats_on_insert_statement();
