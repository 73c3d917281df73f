-- The event journal and snapshots of persistent actors (runtime/journal.ts writes both, in one
-- transaction per group-commit batch). Runtime tables: they know nothing about trading.

CREATE TABLE IF NOT EXISTS journal (
  persistence_id text        NOT NULL,             -- the actor's logical address: risk, order/<id>, position
  seq_nr         bigint      NOT NULL CHECK (seq_nr > 0),  -- 1, 2, 3... per persistence id, no gaps
  epoch          bigint      NOT NULL DEFAULT 0,   -- lease epoch of the writer (fencing: failover issue)
  event_type     text        NOT NULL,
  -- json, not jsonb: stored as written (no parse into jsonb's binary form on every append, about
  -- a fifth of an append's server time); ->, ->> and json_* functions read it all the same.
  payload        json        NOT NULL,
  node           text        NOT NULL,             -- the node that wrote it
  written_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (persistence_id, seq_nr)
);
-- The primary key serves recovery. For "what was written when": a BRIN index, nearly free to keep
-- on an append-only table in time order (a B-tree per column cost a third of an append).
CREATE INDEX IF NOT EXISTS journal_written_at_brin ON journal USING brin (written_at);

CREATE TABLE IF NOT EXISTS snapshots (
  persistence_id text        NOT NULL,
  seq_nr         bigint      NOT NULL CHECK (seq_nr >= 0),  -- the last event the state includes
  epoch          bigint      NOT NULL DEFAULT 0,
  state          json        NOT NULL,
  node           text        NOT NULL,
  written_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (persistence_id, seq_nr)
);
