-- The tables an operator queries, kept in step with the journal: the trading actors write them in
-- the same transaction as the events they follow from (runtime/journal.ts view writes).

CREATE TABLE IF NOT EXISTS orders (
  client_order_id text        PRIMARY KEY,
  intent_id       text        NOT NULL,
  symbol          text        NOT NULL,
  side            text        NOT NULL CHECK (side IN ('buy', 'sell')),
  qty             numeric     NOT NULL CHECK (qty > 0),
  price           numeric     NOT NULL,
  time_in_force   text        NOT NULL,
  reduce_only     boolean     NOT NULL DEFAULT false,
  state           text        NOT NULL,
  filled_qty      numeric     NOT NULL DEFAULT 0 CHECK (filled_qty >= 0),
  avg_fill_price  numeric,
  venue_order_id  text,
  reason          text,
  epoch           bigint      NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_symbol_idx ON orders (symbol, created_at);
CREATE INDEX IF NOT EXISTS orders_state_idx ON orders (state) WHERE state NOT IN ('filled', 'cancelled', 'rejected', 'expired');
CREATE INDEX IF NOT EXISTS orders_created_at_idx ON orders (created_at);

CREATE TABLE IF NOT EXISTS order_audit_trail (
  id              bigserial   PRIMARY KEY,
  client_order_id text        NOT NULL,
  seq_nr          bigint      NOT NULL,           -- the journal event (persistence id order/<client_order_id>)
  event           text        NOT NULL,           -- what happened: submit, ack, fill, cancel-requested, rejected...
  state_from      text        NOT NULL,
  state_to        text        NOT NULL,
  correlation_id  text        NOT NULL,           -- the intent id that started the order: one tick's story
  detail          jsonb       NOT NULL DEFAULT '{}',
  epoch           bigint      NOT NULL DEFAULT 0,
  at              timestamptz NOT NULL,           -- microseconds
  UNIQUE (client_order_id, seq_nr)
);
CREATE INDEX IF NOT EXISTS order_audit_trail_order_idx ON order_audit_trail (client_order_id, at);
CREATE INDEX IF NOT EXISTS order_audit_trail_correlation_idx ON order_audit_trail (correlation_id);
CREATE INDEX IF NOT EXISTS order_audit_trail_at_idx ON order_audit_trail (at);

CREATE TABLE IF NOT EXISTS fills (
  client_order_id text        NOT NULL,
  trade_id        text        NOT NULL,
  symbol          text        NOT NULL,
  side            text        NOT NULL CHECK (side IN ('buy', 'sell')),
  qty             numeric     NOT NULL CHECK (qty > 0),
  price           numeric     NOT NULL CHECK (price > 0),
  fill_time       timestamptz NOT NULL,           -- the venue's time of the fill
  epoch           bigint      NOT NULL DEFAULT 0,
  booked_at       timestamptz NOT NULL,
  PRIMARY KEY (client_order_id, trade_id)
);
CREATE INDEX IF NOT EXISTS fills_symbol_idx ON fills (symbol, fill_time);
CREATE INDEX IF NOT EXISTS fills_time_idx ON fills (fill_time);

CREATE TABLE IF NOT EXISTS positions (
  symbol          text        PRIMARY KEY,
  qty             numeric     NOT NULL,
  avg_price       numeric     NOT NULL,
  realized_pnl    numeric     NOT NULL,
  fills           bigint      NOT NULL,
  epoch           bigint      NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS position_snapshots (
  id              bigserial   PRIMARY KEY,
  symbol          text        NOT NULL,
  qty             numeric     NOT NULL,
  avg_price       numeric     NOT NULL,
  mark_price      numeric,
  realized_pnl    numeric     NOT NULL,
  unrealized_pnl  numeric     NOT NULL,
  seq_nr          bigint      NOT NULL,           -- the position actor's journal event it was taken at
  epoch           bigint      NOT NULL DEFAULT 0,
  at              timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS position_snapshots_symbol_idx ON position_snapshots (symbol, at);
CREATE INDEX IF NOT EXISTS position_snapshots_at_idx ON position_snapshots (at);

CREATE TABLE IF NOT EXISTS risk_state (
  actor           text        PRIMARY KEY,        -- the risk actor's address
  breaker_state   text        NOT NULL,
  breaker_reason  text        NOT NULL,
  kill_switch     boolean     NOT NULL,
  kill_switch_by  text        NOT NULL DEFAULT '',
  daily_pnl       numeric     NOT NULL,
  pnl_day         text        NOT NULL,
  open_orders     integer     NOT NULL,
  approvals       bigint      NOT NULL,
  rejections      bigint      NOT NULL,
  seq_nr          bigint      NOT NULL,
  epoch           bigint      NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL
);
