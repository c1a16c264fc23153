-- schema.sql: the pyramask run log, one SQLite file that any sqlite3 client can query.
-- Version 2 (PRAGMA user_version). Times are julianday('now') (UTC days); NaN is stored as NULL.
-- Every statement is IF NOT EXISTS: running this file on a version 1 log adds what version 2
-- added (pyramid_levels, curves, previews), which is how runlog.c migrates it.

-- A sweep: a named grid of configurations times seeds.
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id   INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,         -- [sweep] name
    spec       TEXT NOT NULL,                -- the sweep file as first run
    created_at REAL NOT NULL DEFAULT (julianday('now'))
);

-- The factors of a sweep: the config keys it varies, with their levels in file order.
CREATE TABLE IF NOT EXISTS factors (
    sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id),
    key      TEXT NOT NULL,                  -- 'mask.structure'
    position INTEGER NOT NULL,               -- 0, 1, ... in the sweep file
    levels   TEXT NOT NULL,                  -- JSON array of canonical values
    PRIMARY KEY (sweep_id, key)
);

-- A run: one configuration and seed, trained (kind 'train') or scored against an
-- existing checkpoint (kind 'score').
CREATE TABLE IF NOT EXISTS runs (
    run_id        INTEGER PRIMARY KEY,
    uid           TEXT NOT NULL UNIQUE,      -- 32 hex digits, kept by db merge
    sweep_id      INTEGER REFERENCES sweeps(sweep_id), -- NULL for a lone train or score
    kind          TEXT NOT NULL CHECK (kind IN ('train', 'score')),
    status        TEXT NOT NULL
                  CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    seed          INTEGER NOT NULL,          -- train.seed
    config_hash   TEXT NOT NULL,             -- 16 hex digits over every key but the seed
    config        TEXT NOT NULL,             -- the whole canonical config (INI)
    started_at    REAL NOT NULL,
    finished_at   REAL,                      -- set when status leaves 'running'
    heartbeat_at  REAL,                      -- updated while running
    attempts      INTEGER NOT NULL DEFAULT 1,-- claims of this (sweep, config, seed)
    code_revision TEXT NOT NULL,             -- `pyramask version`
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    pid_tag       TEXT NOT NULL,             -- boot id and process start, to tell a dead pid
    error         TEXT,                      -- why it failed or was interrupted
    UNIQUE (sweep_id, config_hash, seed)
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);

-- Every config key of a run with its canonical value (the factors join here).
CREATE TABLE IF NOT EXISTS params (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    key    TEXT NOT NULL,                    -- 'mask.structure'
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- Time series: training loss, learning rate, throughput, by step.
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    step   INTEGER NOT NULL,
    key    TEXT NOT NULL,                    -- 'train_loss', 'lr', 'tokens_per_s', 'grad_norm'
    value  REAL,                             -- NULL when NaN
    at     REAL NOT NULL DEFAULT (julianday('now')),
    PRIMARY KEY (run_id, key, step)
) WITHOUT ROWID;

-- Final scores. The canonical one is split 'valid', metric 'nelbo_bpb': an upper bound on
-- the held-out code length in bits per byte (token masking under score.schedule, the run's
-- mask types, plus type_bpb and part_bpb, the code of what the types reveal). Every metric
-- named nelbo_* is such a bound, comparable across runs; nelbo_bpb_sched is the same under
-- the run's own corruption (its components type_bpb_sched, part_bpb_sched). A NELBO that
-- does not pay for what its corruption reveals (importance_mode = schedule) is logged as
-- nelbo_bpb_sched_cond instead: conditional, not a bound, never ranked with the others.
-- stderr of a Monte Carlo score comes from score.replicates independent replicates per
-- window: the error given the held-out text (windows add their variances).
CREATE TABLE IF NOT EXISTS scores (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    split  TEXT NOT NULL,                    -- 'valid' (or 'train')
    metric TEXT NOT NULL,                    -- 'nelbo_bpb', 'nelbo_bpt', 'nelbo_bpb_sched', ...
    value  REAL,                             -- NULL when NaN
    stderr REAL,                             -- Monte Carlo standard error, NULL if none
    n      INTEGER,                          -- sequences or tokens behind the value
    PRIMARY KEY (run_id, split, metric)
) WITHOUT ROWID;

-- Files a run made or used: 'checkpoint', 'pyramid', 'samples'.
CREATE TABLE IF NOT EXISTS artifacts (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    kind   TEXT NOT NULL,
    path   TEXT NOT NULL,                    -- absolute
    bytes  INTEGER,
    PRIMARY KEY (run_id, kind, path)
) WITHOUT ROWID;

-- Pyramids built from corpora, cached by the hash of their inputs.
CREATE TABLE IF NOT EXISTS pyramids (
    hash       TEXT PRIMARY KEY,             -- over corpus bytes and tokenizer settings
    path       TEXT NOT NULL,
    corpus     TEXT NOT NULL,
    levels     TEXT NOT NULL,                -- '512,1024,2048'
    superword  INTEGER NOT NULL,
    pretok     TEXT NOT NULL,
    created_at REAL NOT NULL DEFAULT (julianday('now'))
);

-- Version 2. What a run's inputs look like, for reports (`pyramask export`): its pyramid's
-- levels measured on the held-out split.
CREATE TABLE IF NOT EXISTS pyramid_levels (
    run_id  INTEGER NOT NULL REFERENCES runs(run_id),
    pyramid TEXT NOT NULL,                   -- pyramids.hash (a given file: its token hash)
    level   INTEGER NOT NULL,                -- 0 = the bytes, 1.. the cuts, the superword last
    stage   TEXT NOT NULL,                   -- 'byte', 'subword', 'superword'
    vocab   INTEGER NOT NULL,                -- tokens in the level's vocabulary
    tokens  INTEGER NOT NULL,                -- the split encoded at this level
    bytes   INTEGER NOT NULL,                -- the split's length
    used    INTEGER NOT NULL,                -- distinct tokens of the level in the split
    PRIMARY KEY (run_id, level)
) WITHOUT ROWID;

-- Version 2. Curves y(x) of a run on a grid of x: 'alpha' is the schedule's keep
-- probability alpha(t) at t = 0, 0.01, ..., 1 (at training step 0); a curriculum whose
-- schedule differs at the last step adds 'alpha@STEP'.
CREATE TABLE IF NOT EXISTS curves (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    name   TEXT NOT NULL,                    -- 'alpha', 'alpha@8000'
    label  TEXT NOT NULL,                    -- what it is: the schedule, 'linear', 'poly:2'
    x      REAL NOT NULL,                    -- t
    y      REAL,                             -- alpha(t); NULL when NaN
    PRIMARY KEY (run_id, name, x)
) WITHOUT ROWID;

-- Version 2. Corrupted-text previews: the start of the held-out split under the run's
-- corruption at a few t, as `pyramask mask preview` prints it.
CREATE TABLE IF NOT EXISTS previews (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    t      REAL NOT NULL,                    -- 0.25, 0.5, 0.75
    seed   INTEGER NOT NULL,                 -- of the corruption's random draws
    text   TEXT NOT NULL,                    -- masked runs shown as [type] or [type*n]
    masked INTEGER NOT NULL,                 -- masked tokens
    tokens INTEGER NOT NULL,                 -- tokens of the text at the model level
    types  TEXT NOT NULL,                    -- JSON array of the mask types' names
    PRIMARY KEY (run_id, t)
) WITHOUT ROWID;

-- Student t critical values t(0.975, df), from GSL, for the 95% intervals below.
CREATE TABLE IF NOT EXISTS t_critical (
    df   INTEGER PRIMARY KEY,
    t975 REAL NOT NULL
);

-- One row per run: its sweep, factors, status and main scores.
CREATE VIEW IF NOT EXISTS v_final AS
SELECT r.run_id, s.name AS sweep, r.kind, r.status, r.seed, r.config_hash,
       (SELECT group_concat(key || '=' || value, ' ')
          FROM (SELECT f.key, p.value FROM factors f
                  JOIN params p ON p.run_id = r.run_id AND p.key = f.key
                 WHERE f.sweep_id = r.sweep_id ORDER BY f.position)) AS factors,
       (SELECT json_group_object(key, value)
          FROM (SELECT f.key, p.value FROM factors f
                  JOIN params p ON p.run_id = r.run_id AND p.key = f.key
                 WHERE f.sweep_id = r.sweep_id ORDER BY f.position)) AS factors_json,
       (SELECT value FROM scores WHERE run_id = r.run_id AND split = 'valid'
           AND metric = 'nelbo_bpb') AS nelbo_bpb,
       (SELECT stderr FROM scores WHERE run_id = r.run_id AND split = 'valid'
           AND metric = 'nelbo_bpb') AS nelbo_bpb_se,
       (SELECT value FROM scores WHERE run_id = r.run_id AND split = 'valid'
           AND metric = 'nelbo_bpt') AS nelbo_bpt,
       (SELECT value FROM scores WHERE run_id = r.run_id AND split = 'valid'
           AND metric = 'nelbo_bpb_sched') AS nelbo_bpb_sched,
       (SELECT value FROM scores WHERE run_id = r.run_id AND split = 'valid'
           AND metric = 'masked_acc') AS masked_acc,
       (r.finished_at - r.started_at) * 86400.0 AS seconds,
       r.code_revision, r.host, r.error
  FROM runs r LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id;

-- Finished runs' scores with one factor's level, the input of the ablation views.
CREATE VIEW IF NOT EXISTS v_factor_scores AS
SELECT r.sweep_id, f.key AS factor, f.position, p.value AS level,
       (SELECT CAST(j.key AS INTEGER) FROM json_each(f.levels) j WHERE j.value = p.value)
           AS level_position,
       r.run_id, r.config_hash, r.seed, sc.split, sc.metric, sc.value
  FROM runs r
  JOIN factors f ON f.sweep_id = r.sweep_id
  JOIN params p ON p.run_id = r.run_id AND p.key = f.key
  JOIN scores sc ON sc.run_id = r.run_id
 WHERE r.status = 'finished' AND sc.value IS NOT NULL;

-- Per sweep, factor, level, split and metric (pooled over the other factors):
-- n runs, mean, sample sd and the 95% confidence interval of the mean (Student t).
CREATE VIEW IF NOT EXISTS v_ablation AS
WITH m AS (
    SELECT sweep_id, factor, position, level, level_position, split, metric,
           count(*) AS n, avg(value) AS mean
      FROM v_factor_scores
     GROUP BY sweep_id, factor, level, split, metric),
v AS (
    SELECT m.*, (SELECT sum((x.value - m.mean) * (x.value - m.mean)) FROM v_factor_scores x
                  WHERE x.sweep_id = m.sweep_id AND x.factor = m.factor AND x.level = m.level
                    AND x.split = m.split AND x.metric = m.metric) AS ss
      FROM m)
SELECT s.name AS sweep, v.factor, v.level, v.split, v.metric, v.n, v.mean,
       CASE WHEN v.n > 1 THEN sqrt(v.ss / (v.n - 1)) END AS sd,
       CASE WHEN v.n > 1 THEN t.t975 * sqrt(v.ss / (v.n - 1)) / sqrt(v.n) END AS ci95,
       CASE WHEN v.n > 1 THEN v.mean - t.t975 * sqrt(v.ss / (v.n - 1)) / sqrt(v.n) END AS ci95_lo,
       CASE WHEN v.n > 1 THEN v.mean + t.t975 * sqrt(v.ss / (v.n - 1)) / sqrt(v.n) END AS ci95_hi,
       v.position AS factor_position, v.level_position
  FROM v JOIN sweeps s ON s.sweep_id = v.sweep_id
  LEFT JOIN t_critical t ON t.df = min(v.n - 1, (SELECT max(df) FROM t_critical));

-- Per sweep and configuration (a cell of the grid), split and metric, over its seeds:
-- the factor levels, n seeds, mean, sd and the 95% confidence interval.
CREATE VIEW IF NOT EXISTS v_cells AS
WITH x AS (
    SELECT r.sweep_id, r.config_hash, r.run_id, sc.split, sc.metric, sc.value
      FROM runs r JOIN scores sc ON sc.run_id = r.run_id
     WHERE r.status = 'finished' AND r.sweep_id IS NOT NULL AND sc.value IS NOT NULL),
m AS (
    SELECT sweep_id, config_hash, split, metric, count(*) AS n, avg(value) AS mean,
           min(run_id) AS run_id
      FROM x GROUP BY sweep_id, config_hash, split, metric),
v AS (
    SELECT m.*, (SELECT sum((x.value - m.mean) * (x.value - m.mean)) FROM x
                  WHERE x.sweep_id = m.sweep_id AND x.config_hash = m.config_hash
                    AND x.split = m.split AND x.metric = m.metric) AS ss
      FROM m)
SELECT s.name AS sweep, v.config_hash, f.factors, f.factors_json, v.split, v.metric, v.n,
       v.mean,
       CASE WHEN v.n > 1 THEN sqrt(v.ss / (v.n - 1)) END AS sd,
       CASE WHEN v.n > 1 THEN t.t975 * sqrt(v.ss / (v.n - 1)) / sqrt(v.n) END AS ci95,
       CASE WHEN v.n > 1 THEN v.mean - t.t975 * sqrt(v.ss / (v.n - 1)) / sqrt(v.n) END AS ci95_lo,
       CASE WHEN v.n > 1 THEN v.mean + t.t975 * sqrt(v.ss / (v.n - 1)) / sqrt(v.n) END AS ci95_hi
  FROM v JOIN sweeps s ON s.sweep_id = v.sweep_id
  JOIN v_final f ON f.run_id = v.run_id
  LEFT JOIN t_critical t ON t.df = min(v.n - 1, (SELECT max(df) FROM t_critical));
