/* sections.c: what the report shows, section by section: each one's query on the run log
 * (run here and, verbatim, by the notebook's Python), its tables and its SVG charts. */
#include "markup.h"
#include "report.h"
#include "svgplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A configuration's name: its factor levels, "token · class". */
#define LABEL(alias, fallback)                                                                 \
    "coalesce((SELECT group_concat(value, ' · ')\n"                                            \
    "                 FROM json_each(" alias ".factors_json)), " fallback ")"

/* The runs of the sweep (:sweep NULL = the lone runs). */
#define SWEEP_RUNS                                                                             \
    "SELECT r.* FROM runs r LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id WHERE s.name IS :sweep"

static const char sql_configs[] =
    "SELECT config_hash FROM runs r LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id\n"
    "WHERE s.name IS :sweep GROUP BY config_hash ORDER BY min(run_id)";

static const char sql_factor_keys[] =
    "SELECT f.key FROM factors f JOIN sweeps s ON s.sweep_id = f.sweep_id\n"
    "WHERE s.name IS :sweep ORDER BY f.position";

static const char sql_overview[] =
    "WITH sr AS (" SWEEP_RUNS ")\n"
    "SELECT 'runs' AS what, count(*) AS value FROM sr\n"
    "UNION ALL SELECT 'finished', count(*) FROM sr WHERE status = 'finished'\n"
    "UNION ALL SELECT 'failed', count(*) FROM sr WHERE status = 'failed'\n"
    "UNION ALL SELECT 'interrupted', count(*) FROM sr WHERE status = 'interrupted'\n"
    "UNION ALL SELECT 'running', count(*) FROM sr WHERE status = 'running'\n"
    "UNION ALL SELECT 'configurations', count(DISTINCT config_hash) FROM sr\n"
    "UNION ALL SELECT 'seeds', count(DISTINCT seed) FROM sr\n"
    "UNION ALL SELECT 'first started (UTC)', datetime(min(started_at)) FROM sr\n"
    "UNION ALL SELECT 'last finished (UTC)', datetime(max(finished_at)) FROM sr\n"
    "UNION ALL SELECT 'run time, summed (minutes)',\n"
    "  round(sum(finished_at - started_at) * 1440, 1) FROM sr\n"
    "UNION ALL SELECT 'code revisions', group_concat(DISTINCT code_revision) FROM sr\n"
    "UNION ALL SELECT 'hosts', group_concat(DISTINCT host) FROM sr";

static const char sql_spec[] = "SELECT spec FROM sweeps WHERE name = :sweep";

static const char sql_factors[] =
    "SELECT f.key AS factor, json_array_length(f.levels) AS n_levels,\n"
    "       (SELECT group_concat(value, ', ') FROM json_each(f.levels)) AS levels\n"
    "FROM factors f JOIN sweeps s ON s.sweep_id = f.sweep_id\n"
    "WHERE s.name = :sweep ORDER BY f.position";

static const char sql_runs[] =
    "SELECT run_id,\n"
    "       " LABEL("f", "''") " AS configuration,\n"
    "       seed, status,\n"
    "       round(nelbo_bpb, 4) AS nelbo_bpb, round(nelbo_bpb_se, 4) AS se,\n"
    "       round(nelbo_bpb_sched, 4) AS nelbo_bpb_sched, round(masked_acc, 4) AS masked_acc,\n"
    "       round(seconds, 1) AS seconds, coalesce(error, '') AS error\n"
    "FROM v_final f WHERE sweep IS :sweep ORDER BY run_id";

static const char sql_ablation[] =
    "SELECT a.factor, a.level, a.n, round(a.mean, 4) AS mean,\n"
    "       round(a.ci95_lo, 4) AS ci95_lo, round(a.ci95_hi, 4) AS ci95_hi, round(a.sd, 4) AS sd,\n"
    "       (SELECT round(b.mean, 4) FROM v_ablation b WHERE b.sweep = a.sweep\n"
    "           AND b.factor = a.factor AND b.level = a.level AND b.split = 'valid'\n"
    "           AND b.metric = 'nelbo_bpb_sched') AS nelbo_bpb_sched,\n"
    "       (SELECT round(b.mean, 4) FROM v_ablation b WHERE b.sweep = a.sweep\n"
    "           AND b.factor = a.factor AND b.level = a.level AND b.split = 'valid'\n"
    "           AND b.metric = 'masked_acc') AS masked_acc\n"
    "FROM v_ablation a\n"
    "WHERE a.sweep = :sweep AND a.split = 'valid' AND a.metric = 'nelbo_bpb'\n"
    "ORDER BY a.factor_position, a.level_position";

static const char sql_cells[] =
    "SELECT " LABEL("c", "'all runs'") " AS configuration,\n"
    "       c.config_hash, c.n, round(c.mean, 4) AS mean,\n"
    "       round(c.mean - min(c.mean) OVER (), 4) AS above_best,\n"
    "       round(coalesce(c.ci95_lo, c.mean - 1.96 * mc.se), 4) AS lo,\n"
    "       round(coalesce(c.ci95_hi, c.mean + 1.96 * mc.se), 4) AS hi,\n"
    "       CASE WHEN c.ci95 IS NOT NULL THEN 'seeds, t'\n"
    "            WHEN mc.se IS NOT NULL THEN 'Monte Carlo' END AS interval\n"
    "FROM v_cells c\n"
    "LEFT JOIN (SELECT config_hash, avg(nelbo_bpb_se) AS se FROM v_final\n"
    "           WHERE sweep = :sweep AND status = 'finished' GROUP BY config_hash) mc\n"
    "       ON mc.config_hash = c.config_hash\n"
    "WHERE c.sweep = :sweep AND c.split = 'valid' AND c.metric = 'nelbo_bpb'\n"
    "ORDER BY c.mean";

static const char sql_curves[] =
    "SELECT f.run_id, f.config_hash,\n"
    "       " LABEL("f", "'run ' || f.run_id") " AS configuration,\n"
    "       f.seed, m.step, m.value AS train_loss\n"
    "FROM v_final f JOIN metrics m ON m.run_id = f.run_id AND m.key = 'train_loss'\n"
    "WHERE f.sweep IS :sweep ORDER BY f.run_id, m.step";

static const char sql_curve_means[] =
    "SELECT f.config_hash,\n"
    "       " LABEL("f", "'run ' || f.run_id") " AS configuration,\n"
    "       m.step, avg(m.value) AS train_loss, count(*) AS runs\n"
    "FROM v_final f JOIN metrics m ON m.run_id = f.run_id AND m.key = 'train_loss'\n"
    "WHERE f.sweep IS :sweep\n"
    "GROUP BY f.config_hash, m.step ORDER BY min(f.run_id), m.step";

static const char sql_schedules[] =
    "SELECT CASE WHEN c.name = 'alpha' THEN c.label\n"
    "            ELSE c.label || ' at step ' || substr(c.name, 7) END AS schedule,\n"
    "       c.x AS t, avg(c.y) AS alpha, count(DISTINCT c.run_id) AS runs\n"
    "FROM curves c JOIN runs r ON r.run_id = c.run_id\n"
    "LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id\n"
    "WHERE s.name IS :sweep AND c.name LIKE 'alpha%'\n"
    "GROUP BY c.name, c.label, c.x ORDER BY min(c.run_id), c.name, c.x";

static const char sql_levels[] =
    "SELECT l.pyramid, coalesce(p.levels, '') AS levels, l.level, l.stage, l.vocab, l.tokens,\n"
    "       round(1.0 * l.bytes / l.tokens, 3) AS bytes_per_token,\n"
    "       round(100.0 * l.used / l.vocab, 1) AS used_pct,\n"
    "       CASE WHEN max(l.level = (SELECT CAST(value AS INTEGER) FROM params\n"
    "                                WHERE run_id = l.run_id AND key = 'tokenizer.model_level'))\n"
    "            THEN 'model' ELSE '' END AS role,\n"
    "       count(DISTINCT l.run_id) AS runs\n"
    "FROM pyramid_levels l JOIN runs r ON r.run_id = l.run_id\n"
    "LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id\n"
    "LEFT JOIN pyramids p ON p.hash = l.pyramid\n"
    "WHERE s.name IS :sweep\n"
    "GROUP BY l.pyramid, l.level ORDER BY min(l.run_id), l.level";

static const char sql_previews[] =
    "WITH p AS (SELECT p.*,\n"
    "             " LABEL("f", "'run ' || f.run_id") " AS configuration\n"
    "           FROM previews p JOIN v_final f ON f.run_id = p.run_id\n"
    "           WHERE f.sweep IS :sweep AND p.t = :t),\n"
    "     d AS (SELECT text, configuration, min(run_id) AS first FROM p\n"
    "           GROUP BY text, configuration)\n"
    "SELECT (SELECT group_concat(configuration, ' | ')\n"
    "          FROM (SELECT configuration FROM d WHERE d.text = g.text ORDER BY first))\n"
    "           AS configurations,\n"
    "       g.t, g.masked, g.tokens, g.text, g.types\n"
    "FROM (SELECT text, t, masked, tokens, types, min(run_id) AS first FROM p\n"
    "      GROUP BY text) g\n"
    "ORDER BY g.first LIMIT :limit";

/* ---- the notebook's Python (printf formats: %s is a query, %% a percent sign) ---- */

static const char py_setup[] =
    "# Re-runs the report's queries on the run log. Tables come back as pandas DataFrames when\n"
    "# pandas is installed; figures are drawn when matplotlib is (else printed as text).\n"
    "import html\n"
    "import math\n"
    "import pathlib\n"
    "import sqlite3\n"
    "\n"
    "try:\n"
    "    import pandas as pd\n"
    "except ImportError:\n"
    "    pd = None\n"
    "try:\n"
    "    import matplotlib.pyplot as plt\n"
    "except ImportError:\n"
    "    plt = None\n"
    "\n"
    "DB = %s\n"
    "SWEEP = %s  # None: the runs outside any sweep\n"
    "con = sqlite3.connect(pathlib.Path(DB).resolve().as_uri() + \"?mode=ro\", uri=True)\n"
    "\n"
    "\n"
    "class Rows(list):\n"
    "    \"\"\"A query's rows (tuples) with their column names, shown as a table.\"\"\"\n"
    "\n"
    "    def __init__(self, columns, rows):\n"
    "        super().__init__(rows)\n"
    "        self.columns = columns\n"
    "\n"
    "    def __repr__(self):\n"
    "        cells = [[str(c) for c in self.columns]]\n"
    "        cells += [[\"\" if v is None else str(v) for v in row] for row in self]\n"
    "        width = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]\n"
    "        return \"\\n\".join(\"  \".join(v.ljust(w) for v, w in zip(row, width)).rstrip()\n"
    "                         for row in cells)\n"
    "\n"
    "    def _repr_html_(self):\n"
    "        def cell(tag, v):\n"
    "            return f\"<{tag}>{html.escape('' if v is None else str(v))}</{tag}>\"\n"
    "        head = \"\".join(cell(\"th\", c) for c in self.columns)\n"
    "        body = \"\".join(\"<tr>\" + \"\".join(cell(\"td\", v) for v in row) + \"</tr>\"\n"
    "                       for row in self)\n"
    "        return f\"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\"\n"
    "\n"
    "\n"
    "def q(sql, **params):\n"
    "    \"\"\"Runs sql on the run log with :sweep bound to SWEEP (and any params).\"\"\"\n"
    "    cur = con.execute(sql, {\"sweep\": SWEEP, **params})\n"
    "    columns = [d[0] for d in cur.description]\n"
    "    rows = cur.fetchall()\n"
    "    return pd.DataFrame(rows, columns=columns) if pd is not None else Rows(columns, rows)\n"
    "\n"
    "\n"
    "def records(table):\n"
    "    \"\"\"The rows of a q() result as dicts, None for NULL.\"\"\"\n"
    "    if pd is None:\n"
    "        return [dict(zip(table.columns, row)) for row in table]\n"
    "    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}\n"
    "            for r in table.to_dict(\"records\")]\n"
    "\n"
    "\n"
    "def num(v):\n"
    "    return math.nan if v is None else float(v)\n"
    "\n"
    "\n"
    "def interval(rows, lo=\"ci95_lo\", hi=\"ci95_hi\"):\n"
    "    \"\"\"Error-bar lengths below and above each mean (0 where there is no interval).\"\"\"\n"
    "    return [[0 if r[lo] is None else r[\"mean\"] - r[lo] for r in rows],\n"
    "            [0 if r[hi] is None else r[hi] - r[\"mean\"] for r in rows]]\n"
    "\n"
    "\n"
    "# one colour (and past ten, one line style) per configuration, as in the exported figures\n"
    "CONFIGS = [r[\"config_hash\"] for r in records(q(\"\"\"%s\"\"\"))]\n"
    "FACTORS = \" · \".join(r[\"key\"] for r in records(q(\"\"\"%s\"\"\")))\n"
    "\n"
    "\n"
    "def style(i):\n"
    "    \"\"\"Colour and line style number i, or of configuration hash i.\"\"\"\n"
    "    if isinstance(i, str):\n"
    "        i = CONFIGS.index(i) if i in CONFIGS else 0\n"
    "    return {\"color\": f\"C{i %% 10}\", \"linestyle\": [\"-\", \"--\", \":\"][i // 10 %% 3]}\n";

static const char py_table[] = "q(\"\"\"%s\"\"\")\n";

static const char py_config[] =
    "for r in records(q(\"\"\"%s\"\"\")):\n"
    "    print(r[\"spec\"])\n"
    "q(\"\"\"%s\"\"\")\n";

static const char py_ablation[] =
    "ablation = q(\"\"\"%s\"\"\")\n"
    "rows = records(ablation)\n"
    "if plt is not None and rows:\n"
    "    factors = list(dict.fromkeys(r[\"factor\"] for r in rows))\n"
    "    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.5))\n"
    "    y = list(range(len(rows)))[::-1]\n"
    "    for r, yi in zip(rows, y):\n"
    "        ax.errorbar([r[\"mean\"]], [yi], xerr=interval([r]), fmt=\"o\", capsize=4,\n"
    "                    color=style(factors.index(r[\"factor\"]))[\"color\"])\n"
    "    ax.set_yticks(y)\n"
    "    ax.set_yticklabels([f'{r[\"factor\"]} = {r[\"level\"]}' for r in rows])\n"
    "    ax.set_xlabel(\"held-out NELBO (bits per byte): mean and 95%% CI\")\n"
    "    ax.grid(axis=\"x\", alpha=0.3)\n"
    "    plt.show()\n"
    "ablation\n";

static const char py_cells[] =
    "cells = q(\"\"\"%s\"\"\")\n"
    "rows = records(cells)\n"
    "if plt is not None and rows:\n"
    "    best = rows[0][\"mean\"] - rows[0][\"above_best\"]\n"
    "    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.5))\n"
    "    y = list(range(len(rows)))[::-1]\n"
    "    ax.barh(y, [r[\"above_best\"] for r in rows], xerr=interval(rows, \"lo\", \"hi\"),\n"
    "            capsize=3, color=[style(r[\"config_hash\"])[\"color\"] for r in rows])\n"
    "    ax.set_yticks(y)\n"
    "    ax.set_yticklabels([r[\"configuration\"] for r in rows])\n"
    "    ax.set_xlabel(f\"held-out bits per byte above the best configuration ({best:.4f})\")\n"
    "    ax.set_title(FACTORS)\n"
    "    plt.show()\n"
    "cells\n";

static const char py_curves[] =
    "runs, means = {}, {}\n"
    "for r in records(q(\"\"\"%s\"\"\")):\n"
    "    run = runs.setdefault(r[\"run_id\"], {\"hash\": r[\"config_hash\"], \"x\": [], \"y\": []})\n"
    "    run[\"x\"].append(r[\"step\"])\n"
    "    run[\"y\"].append(num(r[\"train_loss\"]))\n"
    "for r in records(q(\"\"\"%s\"\"\")):\n"
    "    mean = means.setdefault(r[\"config_hash\"], {\"label\": r[\"configuration\"], \"x\": [], \"y\": []})\n"
    "    mean[\"x\"].append(r[\"step\"])\n"
    "    mean[\"y\"].append(num(r[\"train_loss\"]))\n"
    "if plt is not None and means:\n"
    "    fig, ax = plt.subplots(figsize=(9, 4.5))\n"
    "    seeds = [run[\"hash\"] for run in runs.values()]\n"
    "    for run in runs.values():  # each run thin, when its configuration has several\n"
    "        if seeds.count(run[\"hash\"]) > 1:\n"
    "            ax.plot(run[\"x\"], run[\"y\"], lw=0.8, alpha=0.3, **style(run[\"hash\"]))\n"
    "    for h, mean in means.items():  # the mean over its seeds\n"
    "        ax.plot(mean[\"x\"], mean[\"y\"], lw=2, label=mean[\"label\"], **style(h))\n"
    "    ax.set_xlabel(\"step\")\n"
    "    ax.set_ylabel(\"training loss (nats/token)\")\n"
    "    ax.legend(title=FACTORS or None, loc=\"upper left\", bbox_to_anchor=(1.01, 1),\n"
    "              fontsize=\"small\")\n"
    "    plt.show()\n"
    "else:\n"
    "    for mean in means.values():\n"
    "        print(mean[\"label\"], \"final loss\", mean[\"y\"][-1], \"at step\", mean[\"x\"][-1])\n";

static const char py_schedules[] =
    "schedules = {}\n"
    "for r in records(q(\"\"\"%s\"\"\")):\n"
    "    schedules.setdefault(r[\"schedule\"], {})[r[\"t\"]] = r[\"alpha\"]\n"
    "if plt is not None and schedules:\n"
    "    fig, ax = plt.subplots(figsize=(6.5, 4))\n"
    "    for i, (name, alpha) in enumerate(schedules.items()):\n"
    "        ax.plot(list(alpha), list(alpha.values()), label=name, color=f\"C{i %% 10}\",\n"
    "                linestyle=[\"-\", \"--\", \":\"][i %% 3])\n"
    "    ax.set_xlim(0, 1)\n"
    "    ax.set_ylim(0, 1)\n"
    "    ax.set_xlabel(\"t (diffusion time)\")\n"
    "    ax.set_ylabel(\"alpha(t): probability a token is kept\")\n"
    "    ax.legend(title=\"schedule\")\n"
    "    plt.show()\n"
    "else:\n"
    "    for name, alpha in schedules.items():\n"
    "        print(name + \":\", \"  \".join(f\"{a:.3f}\" for t, a in alpha.items()\n"
    "                                      if abs(t * 10 - round(t * 10)) < 1e-9),\n"
    "              \"(t = 0, 0.1, ..., 1)\")\n";

static const char py_levels[] =
    "levels = q(\"\"\"%s\"\"\")\n"
    "rows = records(levels)\n"
    "if plt is not None and rows:\n"
    "    pyramids = list(dict.fromkeys(r[\"pyramid\"] for r in rows))\n"
    "    fig, ax = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.5))\n"
    "    y = list(range(len(rows)))[::-1]\n"
    "    ax.barh(y, [r[\"bytes_per_token\"] for r in rows],\n"
    "            color=[style(pyramids.index(r[\"pyramid\"]))[\"color\"] for r in rows])\n"
    "    ax.set_yticks(y)\n"
    "    ax.set_yticklabels([f'{r[\"levels\"]}: level {r[\"level\"]} ({r[\"vocab\"]} tokens)'\n"
    "                        if len(pyramids) > 1 else f'level {r[\"level\"]} ({r[\"vocab\"]} tokens)'\n"
    "                        for r in rows])\n"
    "    ax.set_xlabel(\"bytes per token on the held-out split\")\n"
    "    plt.show()\n"
    "levels\n";

static const char py_previews[] =
    "for r in records(q(\"\"\"%s\"\"\", t=%g, limit=%d)):\n"
    "    print(f'--- {r[\"configurations\"]} (t = {r[\"t\"]}: {r[\"masked\"]} of {r[\"tokens\"]} '\n"
    "          'tokens masked)')\n"
    "    print(r[\"text\"])\n";

/* ---- building blocks ---- */

static char *dup(const char *s) { return sqlite3_mprintf("%s", s); }

static struct section *section(struct report *r, const char *id, const char *title,
                               const char *intro, const char *sql)
{
    struct section *s = &r->sec[r->nsec++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->title = title;
    s->intro = intro;
    s->sql = sql ? dup(sql) : NULL;
    return s;
}

static int note(struct section *s, const char *fmt, const char *arg)
{
    s->note = sqlite3_mprintf(fmt, arg);
    return s->note ? 0 : -2;
}

/* Adds a block; takes ownership of table (sqlite3_malloc'd), text and caption. */
static int add(struct section *s, enum block_kind kind, struct xtable *table, char *text,
               char *caption)
{
    if (s->nblocks == REPORT_MAX_BLOCKS || (kind == BLOCK_TABLE && !table) ||
        (kind != BLOCK_TABLE && !text)) {
        if (table)
            xt_free(table);
        sqlite3_free(table);
        sqlite3_free(text);
        sqlite3_free(caption);
        return -2;
    }
    s->block[s->nblocks++] = (struct block){.kind = kind, .table = table, .text = text,
                                            .caption = caption};
    return 0;
}

/* Runs sql into a new table block of s (kept even when empty when keep_empty). Returns the
 * table (borrowed), or NULL with *rc set (0 when empty and not kept). */
static struct xtable *table_block(struct report *r, struct section *s, const char *sql,
                                  int keep_empty, int *rc)
{
    struct xtable *t = sqlite3_malloc(sizeof *t);
    if (!t) {
        *rc = -2;
        return NULL;
    }
    if ((*rc = xt_query(r, sql, t))) {
        sqlite3_free(t);
        return NULL;
    }
    if (!t->nrows && !keep_empty) {
        xt_free(t);
        sqlite3_free(t);
        return NULL;
    }
    if ((*rc = add(s, BLOCK_TABLE, t, NULL, NULL)))
        return NULL;
    return t;
}

static int code(struct section *s, char *text)
{
    s->code = text;
    return text ? 0 : -2;
}

/* The configuration colour of a config hash: its place among the sweep's configurations. */
static int config_style(const struct xtable *configs, const char *hash)
{
    for (int i = 0; i < configs->nrows; i++)
        if (!strcmp(xt_at(configs, i, 0)->text, hash))
            return i;
    return 0;
}

/* ---- the sections ---- */

static int overview(struct report *r)
{
    struct section *s = section(r, "overview", "Overview",
                                "The runs of this sweep in the run log, by status, and where "
                                "and with which code they ran.",
                                sql_overview);
    int rc;
    table_block(r, s, sql_overview, 1, &rc);
    return rc ? rc : code(s, sqlite3_mprintf(py_table, sql_overview));
}

static int configuration(struct report *r)
{
    struct section *s = section(r, "config", "Configuration",
                                "The sweep file as it was first run, and the factors it varies "
                                "(every combination of their levels, times the seeds).",
                                sql_factors);
    if (code(s, sqlite3_mprintf(py_config, sql_spec, sql_factors)))
        return -2;
    if (!r->sweep)
        return note(s, "%s", "These runs belong to no sweep: each run's whole configuration "
                             "is in the runs table's config column.");
    struct xtable spec;
    int rc = xt_query(r, sql_spec, &spec);
    if (rc)
        return rc;
    if (spec.nrows)
        rc = add(s, BLOCK_PRE, NULL, dup(xt_at(&spec, 0, 0)->text), NULL);
    xt_free(&spec);
    if (!rc)
        table_block(r, s, sql_factors, 0, &rc);
    return rc;
}

static int runs(struct report *r)
{
    struct section *s = section(r, "runs", "Runs",
                                "Every run with its configuration (the levels of the factors), "
                                "status and scores: nelbo_bpb is the canonical held-out NELBO in "
                                "bits per byte, se its Monte Carlo standard error, "
                                "nelbo_bpb_sched the NELBO under the run's own corruption, "
                                "masked_acc the accuracy at masked positions.",
                                sql_runs);
    int rc;
    table_block(r, s, sql_runs, 1, &rc);
    return rc ? rc : code(s, sqlite3_mprintf(py_table, sql_runs));
}

static int ablation(struct report *r)
{
    struct section *s = section(r, "ablation", "Ablation",
                                "Held-out NELBO in bits per byte (lower is better) by factor "
                                "level, pooled over the other factors and the seeds: mean over "
                                "finished runs, and the 95% confidence interval of the mean "
                                "(Student t). The columns nelbo_bpb_sched and masked_acc are "
                                "the means of those scores.",
                                sql_ablation);
    if (code(s, sqlite3_mprintf(py_ablation, sql_ablation)))
        return -2;
    if (!r->sweep)
        return note(s, "%s", "Runs outside a sweep have no factors to compare.");
    struct xtable *t = sqlite3_malloc(sizeof *t);
    int rc = t ? xt_query(r, sql_ablation, t) : -2;
    if (rc || !t->nrows) {
        if (!rc)
            xt_free(t);
        sqlite3_free(t);
        return rc ? rc : note(s, "%s", "No finished runs yet.");
    }
    svg_row *rows = calloc((size_t)t->nrows, sizeof *rows);
    char **labels = calloc((size_t)t->nrows, sizeof *labels);
    sqlite3_str *svg = sqlite3_str_new(NULL);
    rc = rows && labels ? 0 : -2;
    int style = -1;
    for (int i = 0; !rc && i < t->nrows; i++) {
        const char *factor = xt_text(t, i, "factor");
        if (i == 0 || strcmp(factor, xt_text(t, i - 1, "factor")))
            style++;
        labels[i] = sqlite3_mprintf("%s", xt_text(t, i, "level"));
        rows[i] = (svg_row){factor, labels[i], xt_num(t, i, "mean"), xt_num(t, i, "ci95_lo"),
                            xt_num(t, i, "ci95_hi"), style, NULL};
        if (!labels[i])
            rc = -2;
    }
    if (!rc) {
        svg_row_opts o = {"Held-out bits per byte by factor level",
                          "held-out NELBO (bits per byte): mean and 95% CI", 0, 0};
        svg_row_chart(svg, &o, rows, t->nrows);
    }
    for (int i = 0; labels && i < t->nrows; i++)
        sqlite3_free(labels[i]);
    free(labels);
    free(rows);
    char *text = mk_finish(svg);
    if (rc || add(s, BLOCK_SVG, NULL, text, NULL)) {
        if (rc)
            sqlite3_free(text);
        xt_free(t);
        sqlite3_free(t);
        return -2;
    }
    return add(s, BLOCK_TABLE, t, NULL, NULL);
}

static int cells(struct report *r, const struct xtable *configs)
{
    struct section *s = section(r, "cells", "Held-out bits per byte by configuration",
                                "Each configuration of the grid, best first: how many bits per "
                                "byte its mean held-out NELBO lies above the best one's (the "
                                "bar; the mean itself is written beside it), with the 95% "
                                "confidence interval of the mean over the seeds as whiskers, "
                                "or, for a single seed, plus and minus 1.96 Monte Carlo "
                                "standard errors (column interval). Colours match the training "
                                "curves.",
                                sql_cells);
    if (code(s, sqlite3_mprintf(py_cells, sql_cells)))
        return -2;
    if (!r->sweep)
        return note(s, "%s", "Runs outside a sweep are listed under Runs.");
    struct xtable *t = sqlite3_malloc(sizeof *t);
    int rc = t ? xt_query(r, sql_cells, t) : -2;
    if (rc || !t->nrows) {
        if (!rc)
            xt_free(t);
        sqlite3_free(t);
        return rc ? rc : note(s, "%s", "No finished runs yet.");
    }
    svg_row *rows = calloc((size_t)t->nrows, sizeof *rows);
    char **text = calloc((size_t)t->nrows, sizeof *text);
    double best = xt_num(t, 0, "mean") - xt_num(t, 0, "above_best"), hw = INFINITY;
    for (int i = 0; i < t->nrows; i++) {
        double h = (xt_num(t, i, "hi") - xt_num(t, i, "lo")) / 2;
        hw = h > 0 && h < hw ? h : hw;
    }
    int dec = svg_decimals(best, hw);
    rc = rows && text ? 0 : -2;
    for (int i = 0; !rc && i < t->nrows; i++) {
        double mean = xt_num(t, i, "mean"), above = xt_num(t, i, "above_best");
        text[i] = i ? sqlite3_mprintf("%.*f (+%.*f)", dec, mean, dec, above)
                    : sqlite3_mprintf("%.*f (best)", dec, mean);
        int k = config_style(configs, xt_text(t, i, "config_hash"));
        rows[i] = (svg_row){NULL, xt_text(t, i, "configuration"), above,
                            xt_num(t, i, "lo") - best, xt_num(t, i, "hi") - best, k, text[i]};
        rc = text[i] ? 0 : -2;
    }
    char *xlabel = rc ? NULL : sqlite3_mprintf("held-out bits per byte above the best "
                                               "configuration (%s: %.*f)",
                                               xt_text(t, 0, "configuration"), dec, best);
    if (xlabel) {
        sqlite3_str *svg = sqlite3_str_new(NULL);
        svg_row_opts o = {r->factors ? r->factors : "Held-out bits per byte", xlabel, 1, 0};
        svg_row_chart(svg, &o, rows, t->nrows);
        rc = add(s, BLOCK_SVG, NULL, mk_finish(svg), NULL);
    } else {
        rc = -2;
    }
    sqlite3_free(xlabel);
    for (int i = 0; text && i < t->nrows; i++)
        sqlite3_free(text[i]);
    free(text);
    free(rows);
    if (rc) {
        xt_free(t);
        sqlite3_free(t);
        return rc;
    }
    return add(s, BLOCK_TABLE, t, NULL, NULL);
}

/* Series of (x, y) points from consecutive rows of t sharing the value of column `key`. */
struct series_set {
    svg_series *s;
    double *xy;
    int n;
};

static int series_from(struct series_set *ss, const struct xtable *t, const char *key,
                       const char *x, const char *y, const char *label)
{
    memset(ss, 0, sizeof *ss);
    ss->s = calloc((size_t)t->nrows + 1, sizeof *ss->s);
    ss->xy = malloc(((size_t)t->nrows + 1) * 2 * sizeof *ss->xy);
    if (!ss->s || !ss->xy)
        return -2;
    double *xs = ss->xy, *ys = ss->xy + t->nrows;
    for (int i = 0; i < t->nrows; i++) {
        if (i == 0 || strcmp(xt_text(t, i, key), xt_text(t, i - 1, key))) {
            ss->s[ss->n++] = (svg_series){.label = label ? xt_text(t, i, label) : NULL,
                                          .x = xs + i, .y = ys + i};
        }
        xs[i] = xt_num(t, i, x);
        ys[i] = xt_num(t, i, y);
        ss->s[ss->n - 1].n++;
    }
    return 0;
}

static void series_free(struct series_set *ss)
{
    free(ss->s);
    free(ss->xy);
}

/* Colour and dash of configuration k: ten colours, then the next dash pattern. */
static void config_look(svg_series *s, int k)
{
    s->color = k;
    s->dash = k / SVG_PALETTE;
}

static int curves(struct report *r, const struct xtable *configs)
{
    struct section *s = section(r, "curves", "Training curves",
                                "The training loss (the corruption's weighted NELBO estimate "
                                "per token, in nats, averaged over the steps between two log "
                                "points): for each configuration the mean over its seeds as a "
                                "thick line, and each seed as a thin one.",
                                sql_curves);
    if (code(s, sqlite3_mprintf(py_curves, sql_curves, sql_curve_means)))
        return -2;
    struct xtable runs, means;
    int rc = xt_query(r, sql_curves, &runs);
    if (rc)
        return rc;
    if ((rc = xt_query(r, sql_curve_means, &means))) {
        xt_free(&runs);
        return rc;
    }
    if (!runs.nrows) {
        xt_free(&runs);
        xt_free(&means);
        return note(s, "%s", "No training curves: no run has logged a training loss yet.");
    }
    struct series_set sr = {0}, sm = {0};
    rc = series_from(&sr, &runs, "run_id", "step", "train_loss", NULL);
    if (!rc)
        rc = series_from(&sm, &means, "config_hash", "step", "train_loss", "configuration");
    svg_series *all = rc ? NULL : calloc((size_t)(sr.n + sm.n), sizeof *all);
    int n = 0;
    /* a thin line per run of a configuration with several, then the thick means */
    for (int i = 0; all && i < sr.n; i++) {
        const char *hash = xt_text(&runs, (int)(sr.s[i].x - sr.xy), "config_hash");
        int seeds = 0;
        for (int j = 0; j < sr.n; j++)
            seeds += !strcmp(hash, xt_text(&runs, (int)(sr.s[j].x - sr.xy), "config_hash"));
        if (seeds < 2)
            continue;
        all[n] = sr.s[i];
        config_look(&all[n], config_style(configs, hash));
        all[n].width = 0.8;
        all[n++].opacity = 0.35;
    }
    for (int i = 0; all && i < sm.n; i++) {
        all[n] = sm.s[i];
        config_look(&all[n], config_style(configs, xt_text(&means, (int)(sm.s[i].x - sm.xy),
                                                           "config_hash")));
        all[n++].width = 2.2;
    }
    if (all) {
        sqlite3_str *svg = sqlite3_str_new(NULL);
        svg_line_opts o = {"Training loss", "step", "training loss (nats/token)", r->factors,
                           NAN, NAN, NAN, NAN, 0, 400};
        svg_line_chart(svg, &o, all, n);
        rc = add(s, BLOCK_SVG, NULL, mk_finish(svg), NULL);
    } else {
        rc = -2;
    }
    free(all);
    series_free(&sr);
    series_free(&sm);
    xt_free(&runs);
    xt_free(&means);
    return rc;
}

/* The note of a section whose table came with schema version 2. */
static int needs_v2(struct report *r, struct section *s, const char *what)
{
    if (r->version >= 2)
        return 1;
    note(s, "This run log (schema version 1) holds no %s: runs logged by a newer pyramask "
            "record them.", what);
    return 0;
}

static int schedules(struct report *r)
{
    struct section *s = section(r, "schedules", "Schedules",
                                "The masking schedules of the runs: alpha(t), the probability "
                                "that a token is kept at diffusion time t (1 - alpha(t) is the "
                                "expected masked fraction). A curriculum that changes the "
                                "schedule shows it at its last step too.",
                                sql_schedules);
    if (code(s, sqlite3_mprintf(py_schedules, sql_schedules)))
        return -2;
    if (!needs_v2(r, s, "schedule curves"))
        return s->note ? 0 : -2;
    struct xtable t;
    int rc = xt_query(r, sql_schedules, &t);
    if (rc)
        return rc;
    if (!t.nrows) {
        xt_free(&t);
        return note(s, "%s", "No schedule curves recorded.");
    }
    struct series_set ss;
    rc = series_from(&ss, &t, "schedule", "t", "alpha", "schedule");
    for (int i = 0; !rc && i < ss.n; i++) {
        ss.s[i].color = i;
        ss.s[i].dash = i; /* few curves, often on top of each other: each its own dash */
    }
    if (!rc) {
        sqlite3_str *svg = sqlite3_str_new(NULL);
        svg_line_opts o = {"Masking schedules", "t (diffusion time)",
                           "alpha(t): probability a token is kept", "schedule",
                           0, 1, 0, 1, 560, 340};
        svg_line_chart(svg, &o, ss.s, ss.n);
        rc = add(s, BLOCK_SVG, NULL, mk_finish(svg), NULL);
    }
    series_free(&ss);
    xt_free(&t);
    return rc;
}

static int pyramid(struct report *r)
{
    struct section *s = section(r, "pyramid", "Vocabulary pyramid",
                                "Each level of the runs' pyramids measured on the held-out "
                                "split: vocabulary size, tokens, bytes per token, and the share "
                                "of the level's vocabulary the split uses (used_pct). Level 0 "
                                "is the bytes; role marks the level the denoiser reads.",
                                sql_levels);
    if (code(s, sqlite3_mprintf(py_levels, sql_levels)))
        return -2;
    if (!needs_v2(r, s, "pyramid statistics"))
        return s->note ? 0 : -2;
    struct xtable *t = sqlite3_malloc(sizeof *t);
    int rc = t ? xt_query(r, sql_levels, t) : -2;
    if (rc || !t->nrows) {
        if (!rc)
            xt_free(t);
        sqlite3_free(t);
        return rc ? rc : note(s, "%s", "No pyramid statistics recorded.");
    }
    int several = 0;
    for (int i = 1; i < t->nrows; i++)
        several |= strcmp(xt_text(t, i, "pyramid"), xt_text(t, 0, "pyramid")) != 0;
    svg_row *rows = calloc((size_t)t->nrows, sizeof *rows);
    char **labels = calloc((size_t)t->nrows, sizeof *labels);
    rc = rows && labels ? 0 : -2;
    int style = -1;
    for (int i = 0; !rc && i < t->nrows; i++) {
        if (i == 0 || strcmp(xt_text(t, i, "pyramid"), xt_text(t, i - 1, "pyramid")))
            style++;
        labels[i] = sqlite3_mprintf("level %s (%s tokens)%s", xt_text(t, i, "level"),
                                    xt_text(t, i, "vocab"),
                                    *xt_text(t, i, "role") ? ", model" : "");
        rows[i] = (svg_row){several ? xt_text(t, i, "levels") : NULL, labels[i],
                            xt_num(t, i, "bytes_per_token"), NAN, NAN, style, NULL};
        rc = labels[i] ? 0 : -2;
    }
    if (!rc) {
        sqlite3_str *svg = sqlite3_str_new(NULL);
        svg_row_opts o = {"Bytes per token by level", "bytes per token on the held-out split", 1,
                          0};
        svg_row_chart(svg, &o, rows, t->nrows);
        rc = add(s, BLOCK_SVG, NULL, mk_finish(svg), NULL);
    }
    for (int i = 0; labels && i < t->nrows; i++)
        sqlite3_free(labels[i]);
    free(labels);
    free(rows);
    if (rc) {
        xt_free(t);
        sqlite3_free(t);
        return rc;
    }
    return add(s, BLOCK_TABLE, t, NULL, NULL);
}

/* The mask types' names of a preview (a JSON array) as the block's marks. */
static int mark_names(struct report *r, struct block *b, const char *json)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "SELECT value FROM json_each(?1) WHERE type = 'text'", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(r->msg, sizeof r->msg, "%s", sqlite3_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    int rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        char **m = sqlite3_realloc64(b->marks, ((size_t)b->nmarks + 1) * sizeof *m);
        char *name = m ? dup((const char *)sqlite3_column_text(st, 0)) : NULL;
        if (m)
            b->marks = m;
        if (name)
            b->marks[b->nmarks++] = name;
        else
            rc = -2;
    }
    sqlite3_finalize(st);
    return rc;
}

static int previews(struct report *r)
{
    struct section *s = section(r, "previews", "Corrupted-text previews",
                                "The start of the held-out split as each distinct corruption "
                                "hides it at one t (as pyramask mask preview prints it): a "
                                "masked run of tokens shows as [type] or [type*n].",
                                sql_previews);
    if (code(s, sqlite3_mprintf(py_previews, sql_previews, r->preview_t, r->max_previews)))
        return -2;
    if (!needs_v2(r, s, "corrupted-text previews"))
        return s->note ? 0 : -2;
    struct xtable t;
    int rc = xt_query(r, sql_previews, &t);
    if (rc)
        return rc;
    if (!t.nrows)
        rc = note(s, "%s", "No previews recorded at this t.");
    for (int i = 0; !rc && i < t.nrows; i++) {
        char *caption = sqlite3_mprintf("%s (t = %s: %s of %s tokens masked)",
                                        xt_text(&t, i, "configurations"), xt_text(&t, i, "t"),
                                        xt_text(&t, i, "masked"), xt_text(&t, i, "tokens"));
        rc = add(s, BLOCK_PRE, NULL, dup(xt_text(&t, i, "text")), caption);
        if (!rc)
            rc = mark_names(r, &s->block[s->nblocks - 1], xt_text(&t, i, "types"));
    }
    xt_free(&t);
    return rc;
}

/* The notebook's setup cell: the log's path and the sweep as Python literals (JSON string
 * literals from SQLite, which Python reads as they are). */
static int setup_code(struct report *r)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "SELECT json_quote(?1), coalesce(json_quote(?2), 'None')", -1,
                           &st, NULL) != SQLITE_OK) {
        snprintf(r->msg, sizeof r->msg, "%s", sqlite3_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, r->db_path, -1, SQLITE_STATIC);
    if (r->sweep)
        sqlite3_bind_text(st, 2, r->sweep, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (!rc)
        r->setup_code = sqlite3_mprintf(py_setup, sqlite3_column_text(st, 0),
                                        sqlite3_column_text(st, 1), sql_configs,
                                        sql_factor_keys);
    else
        snprintf(r->msg, sizeof r->msg, "%s", sqlite3_errmsg(r->db));
    sqlite3_finalize(st);
    return rc ? -1 : r->setup_code ? 0 : -2;
}

int report_build(struct report *r)
{
    struct xtable configs, keys;
    int rc = xt_query(r, sql_configs, &configs);
    if (rc)
        return rc;
    if ((rc = xt_query(r, sql_factor_keys, &keys))) {
        xt_free(&configs);
        return rc;
    }
    if (keys.nrows) {
        sqlite3_str *b = sqlite3_str_new(NULL);
        for (int i = 0; i < keys.nrows; i++)
            sqlite3_str_appendf(b, "%s%s", i ? " · " : "", xt_at(&keys, i, 0)->text);
        r->factors = mk_finish(b);
        rc = r->factors ? 0 : -2;
    }
    xt_free(&keys);
    if (!rc) rc = setup_code(r);
    if (!rc) rc = overview(r);
    if (!rc) rc = configuration(r);
    if (!rc) rc = ablation(r);
    if (!rc) rc = cells(r, &configs);
    if (!rc) rc = curves(r, &configs);
    if (!rc) rc = schedules(r);
    if (!rc) rc = pyramid(r);
    if (!rc) rc = previews(r);
    if (!rc) rc = runs(r);
    xt_free(&configs);
    if (rc == -2)
        snprintf(r->msg, sizeof r->msg, "out of memory");
    return rc;
}
