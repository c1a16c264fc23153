/* queries.c: the report's text that runs elsewhere too: each section's SQL on the run log
 * (run by sections.c and, verbatim, by the notebook) and the notebook's Python around it. */
#include "queries.h"

/* A configuration's name: its factor levels, "token · class". */
#define LABEL(alias, fallback)                       \
    "coalesce((SELECT group_concat(value, ' · ')\n" \
    "                 FROM json_each(" alias ".factors_json)), " fallback ")"

/* The runs of the sweep (:sweep NULL = the lone runs). */
#define SWEEP_RUNS                                                                          \
    "SELECT r.* FROM runs r LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id WHERE s.name IS " \
    ":sweep"

const char export_sql_configs[] =
    "SELECT config_hash FROM runs r LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id\n"
    "WHERE s.name IS :sweep GROUP BY config_hash ORDER BY min(run_id)";

const char export_sql_factor_keys[] =
    "SELECT f.key FROM factors f JOIN sweeps s ON s.sweep_id = f.sweep_id\n"
    "WHERE s.name IS :sweep ORDER BY f.position";

const char export_sql_overview[] =
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

const char export_sql_spec[] = "SELECT spec FROM sweeps WHERE name = :sweep";

const char export_sql_factors[] =
    "SELECT f.key AS factor, json_array_length(f.levels) AS n_levels,\n"
    "       (SELECT group_concat(value, ', ') FROM json_each(f.levels)) AS levels\n"
    "FROM factors f JOIN sweeps s ON s.sweep_id = f.sweep_id\n"
    "WHERE s.name = :sweep ORDER BY f.position";

const char export_sql_runs[] =
    "SELECT run_id,\n"
    "       " LABEL(
        "f", "''") " AS configuration,\n"
                   "       seed, status,\n"
                   "       round(nelbo_bpb, 4) AS nelbo_bpb, round(nelbo_bpb_se, 4) AS se,\n"
                   "       round(nelbo_bpb_sched, 4) AS nelbo_bpb_sched, round(masked_acc, 4) "
                   "AS masked_acc,\n"
                   "       round(seconds, 1) AS seconds, coalesce(error, '') AS error\n"
                   "FROM v_final f WHERE sweep IS :sweep ORDER BY run_id";

const char export_sql_ablation[] =
    "SELECT a.factor, a.level, a.n, round(a.mean, 4) AS mean,\n"
    "       round(a.ci95_lo, 4) AS ci95_lo, round(a.ci95_hi, 4) AS ci95_hi, round(a.sd, 4) AS "
    "sd,\n"
    "       (SELECT round(b.mean, 4) FROM v_ablation b WHERE b.sweep = a.sweep\n"
    "           AND b.factor = a.factor AND b.level = a.level AND b.split = 'valid'\n"
    "           AND b.metric = 'nelbo_bpb_sched') AS nelbo_bpb_sched,\n"
    "       (SELECT round(b.mean, 4) FROM v_ablation b WHERE b.sweep = a.sweep\n"
    "           AND b.factor = a.factor AND b.level = a.level AND b.split = 'valid'\n"
    "           AND b.metric = 'masked_acc') AS masked_acc\n"
    "FROM v_ablation a\n"
    "WHERE a.sweep = :sweep AND a.split = 'valid' AND a.metric = 'nelbo_bpb'\n"
    "ORDER BY a.factor_position, a.level_position";

const char export_sql_cells[] = "SELECT " LABEL(
    "c",
    "'all runs'") " AS configuration,\n"
                  "       c.config_hash, c.n, round(c.mean, 4) AS mean,\n"
                  "       round(c.mean - min(c.mean) OVER (), 4) AS above_best,\n"
                  "       round(coalesce(c.ci95_lo, c.mean - 1.96 * mc.se), 4) AS lo,\n"
                  "       round(coalesce(c.ci95_hi, c.mean + 1.96 * mc.se), 4) AS hi,\n"
                  "       CASE WHEN c.ci95 IS NOT NULL THEN 'seeds, t'\n"
                  "            WHEN mc.se IS NOT NULL THEN 'Monte Carlo' END AS interval\n"
                  "FROM v_cells c\n"
                  "LEFT JOIN (SELECT config_hash, avg(nelbo_bpb_se) AS se FROM v_final\n"
                  "           WHERE sweep = :sweep AND status = 'finished' GROUP BY "
                  "config_hash) mc\n"
                  "       ON mc.config_hash = c.config_hash\n"
                  "WHERE c.sweep = :sweep AND c.split = 'valid' AND c.metric = 'nelbo_bpb'\n"
                  "ORDER BY c.mean";

const char export_sql_curves[] =
    "SELECT f.run_id, f.config_hash,\n"
    "       " LABEL("f",
                    "'run ' || f.run_id") " AS configuration,\n"
                                          "       f.seed, m.step, m.value AS train_loss\n"
                                          "FROM v_final f JOIN metrics m ON m.run_id = "
                                          "f.run_id AND m.key = 'train_loss'\n"
                                          "WHERE f.sweep IS :sweep ORDER BY f.run_id, m.step";

const char export_sql_curve_means[] =
    "SELECT f.config_hash,\n"
    "       " LABEL(
        "f",
        "'run ' || f.run_id") " AS configuration,\n"
                              "       m.step, avg(m.value) AS train_loss, count(*) AS runs\n"
                              "FROM v_final f JOIN metrics m ON m.run_id = f.run_id AND m.key "
                              "= 'train_loss'\n"
                              "WHERE f.sweep IS :sweep\n"
                              "GROUP BY f.config_hash, m.step ORDER BY min(f.run_id), m.step";

const char export_sql_heldout[] =
    "SELECT m.key AS metric, m.key || ' ' || f.config_hash AS series, f.config_hash,\n"
    "       " LABEL(
        "f", "'run ' || f.run_id") " AS configuration,\n"
                                   "       m.step, avg(m.value) AS bpb, count(*) AS runs\n"
                                   "FROM v_final f JOIN metrics m ON m.run_id = f.run_id\n"
                                   "WHERE f.sweep IS :sweep AND f.status = 'finished'\n"
                                   "  AND substr(m.key, 1, 6) = 'curve_' AND substr(m.key, -3) "
                                   "<> '_se'\n"
                                   "GROUP BY m.key, f.config_hash, m.step ORDER BY m.key, "
                                   "min(f.run_id), m.step";

/* A sampler's label: the factor levels but the number of sampling steps, which is the
 * frontier's x axis (through the model calls it costs). */
#define SAMPLER(alias)                                                                         \
    "coalesce((SELECT group_concat(j.value, ' · ') FROM json_each(" alias ".factors_json) j\n" \
    "          WHERE j.key NOT IN ('score.sample_steps', 'sample.steps')), 'all runs')"

const char export_sql_frontier[] = "WITH q AS (SELECT f.run_id, f.config_hash, " SAMPLER(
    "f") " AS sampler,\n"
         "                  (SELECT value FROM scores WHERE run_id = f.run_id AND split = "
         "'samples'\n"
         "                      AND metric = 'sample_nfe') AS nfe\n"
         "             FROM v_final f WHERE f.sweep IS :sweep AND f.status = 'finished')\n"
         "SELECT s.metric, s.metric || ' ' || q.sampler AS series, q.sampler, q.config_hash,\n"
         "       avg(q.nfe) AS nfe, avg(s.value) AS value, count(*) AS runs\n"
         "FROM q JOIN scores s ON s.run_id = q.run_id AND s.split = 'samples'\n"
         "WHERE q.nfe IS NOT NULL AND s.metric NOT IN ('sample_nfe', 'sample_length')\n"
         "GROUP BY s.metric, q.config_hash ORDER BY s.metric, q.sampler, avg(q.nfe)";

const char export_sql_schedules[] =
    "SELECT CASE WHEN c.name = 'alpha' THEN c.label\n"
    "            ELSE c.label || ' at step ' || substr(c.name, 7) END AS schedule,\n"
    "       c.x AS t, avg(c.y) AS alpha, count(DISTINCT c.run_id) AS runs\n"
    "FROM curves c JOIN runs r ON r.run_id = c.run_id\n"
    "LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id\n"
    "WHERE s.name IS :sweep AND c.name LIKE 'alpha%'\n"
    "GROUP BY c.name, c.label, c.x ORDER BY min(c.run_id), c.name, c.x";

const char export_sql_levels[] =
    "SELECT l.pyramid, coalesce(p.levels, '') AS levels, l.level, l.stage, l.vocab, l.tokens,\n"
    "       round(1.0 * l.bytes / l.tokens, 3) AS bytes_per_token,\n"
    "       round(100.0 * l.used / l.vocab, 1) AS used_pct,\n"
    "       CASE WHEN max(l.level = (SELECT CAST(value AS INTEGER) FROM params\n"
    "                                WHERE run_id = l.run_id AND key = "
    "'tokenizer.model_level'))\n"
    "            THEN 'model' ELSE '' END AS role,\n"
    "       count(DISTINCT l.run_id) AS runs\n"
    "FROM pyramid_levels l JOIN runs r ON r.run_id = l.run_id\n"
    "LEFT JOIN sweeps s ON s.sweep_id = r.sweep_id\n"
    "LEFT JOIN pyramids p ON p.hash = l.pyramid\n"
    "WHERE s.name IS :sweep\n"
    "GROUP BY l.pyramid, l.level ORDER BY min(l.run_id), l.level";

const char export_sql_previews[] =
    "WITH p AS (SELECT p.*,\n"
    "             " LABEL(
        "f", "'run ' || f.run_id") " AS configuration\n"
                                   "           FROM previews p JOIN v_final f ON f.run_id = "
                                   "p.run_id\n"
                                   "           WHERE f.sweep IS :sweep AND p.t = :t),\n"
                                   "     d AS (SELECT text, configuration, min(run_id) AS "
                                   "first FROM p\n"
                                   "           GROUP BY text, configuration)\n"
                                   "SELECT (SELECT group_concat(configuration, ' | ')\n"
                                   "          FROM (SELECT configuration FROM d WHERE d.text = "
                                   "g.text ORDER BY first))\n"
                                   "           AS configurations,\n"
                                   "       g.t, g.masked, g.tokens, g.text, g.types\n"
                                   "FROM (SELECT text, t, masked, tokens, types, min(run_id) "
                                   "AS first FROM p\n"
                                   "      GROUP BY text) g\n"
                                   "ORDER BY g.first LIMIT :limit";

/* ---- the notebook's Python (printf formats: %s is a query, %% a percent sign) ---- */

const char export_py_setup[] =
    "# Re-runs the report's queries on the run log. Tables come back as pandas DataFrames "
    "when\n"
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
    "    return pd.DataFrame(rows, columns=columns) if pd is not None else Rows(columns, "
    "rows)\n"
    "\n"
    "\n"
    "def records(table):\n"
    "    \"\"\"The rows of a q() result as dicts, None for NULL.\"\"\"\n"
    "    if pd is None:\n"
    "        return [dict(zip(table.columns, row)) for row in table]\n"
    "    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in "
    "r.items()}\n"
    "            for r in table.to_dict(\"records\")]\n"
    "\n"
    "\n"
    "def num(v):\n"
    "    return math.nan if v is None else float(v)\n"
    "\n"
    "\n"
    "def interval(rows, lo=\"ci95_lo\", hi=\"ci95_hi\"):\n"
    "    \"\"\"Error-bar lengths below and above each mean (0 where there is no "
    "interval).\"\"\"\n"
    "    return [[0 if r[lo] is None else r[\"mean\"] - r[lo] for r in rows],\n"
    "            [0 if r[hi] is None else r[hi] - r[\"mean\"] for r in rows]]\n"
    "\n"
    "\n"
    "# one colour (and past ten, one line style) per configuration, as in the exported "
    "figures\n"
    "CONFIGS = [r[\"config_hash\"] for r in records(q(\"\"\"%s\"\"\"))]\n"
    "FACTORS = \" · \".join(r[\"key\"] for r in records(q(\"\"\"%s\"\"\")))\n"
    "\n"
    "\n"
    "def style(i):\n"
    "    \"\"\"Colour and line style number i, or of configuration hash i.\"\"\"\n"
    "    if isinstance(i, str):\n"
    "        i = CONFIGS.index(i) if i in CONFIGS else 0\n"
    "    return {\"color\": f\"C{i %% 10}\", \"linestyle\": [\"-\", \"--\", \":\"][i // 10 %% "
    "3]}\n";

const char export_py_table[] = "q(\"\"\"%s\"\"\")\n";

const char export_py_config[] = "for r in records(q(\"\"\"%s\"\"\")):\n"
                                "    print(r[\"spec\"])\n"
                                "q(\"\"\"%s\"\"\")\n";

const char export_py_ablation[] =
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

const char export_py_cells[] =
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

const char export_py_heldout[] =
    "charts = {}\n"
    "for r in records(q(\"\"\"%s\"\"\")):\n"
    "    line = charts.setdefault(r[\"metric\"], {}).setdefault(\n"
    "        r[\"config_hash\"], {\"label\": r[\"configuration\"], \"x\": [], \"y\": []})\n"
    "    line[\"x\"].append(r[\"step\"])\n"
    "    line[\"y\"].append(num(r[\"bpb\"]))\n"
    "for metric, lines in charts.items():\n"
    "    if plt is None:\n"
    "        for line in lines.values():\n"
    "            print(metric, line[\"label\"], list(zip(line[\"x\"], line[\"y\"])))\n"
    "        continue\n"
    "    fig, ax = plt.subplots(figsize=(9, 4.5))\n"
    "    for h, line in lines.items():  # the mean over the configuration's seeds\n"
    "        ax.plot(line[\"x\"], line[\"y\"], lw=2, marker=\"o\", ms=3, "
    "label=line[\"label\"],\n"
    "                **style(h))\n"
    "    ax.set_xlabel(\"step\")\n"
    "    ax.set_ylabel(metric[6:] + \" (held-out bits/byte)\")\n"
    "    ax.legend(title=FACTORS or None, loc=\"upper left\", bbox_to_anchor=(1.01, 1),\n"
    "              fontsize=\"small\")\n"
    "    plt.show()\n";

const char export_py_frontier[] =
    "charts = {}\n"
    "for r in records(q(\"\"\"%s\"\"\")):\n"
    "    line = charts.setdefault(r[\"metric\"], {}).setdefault(\n"
    "        r[\"sampler\"], {\"x\": [], \"y\": []})\n"
    "    line[\"x\"].append(num(r[\"nfe\"]))\n"
    "    line[\"y\"].append(num(r[\"value\"]))\n"
    "for metric, lines in charts.items():\n"
    "    if plt is None:\n"
    "        for sampler, line in lines.items():\n"
    "            print(metric, sampler, list(zip(line[\"x\"], line[\"y\"])))\n"
    "        continue\n"
    "    fig, ax = plt.subplots(figsize=(9, 4.5))\n"
    "    for i, (sampler, line) in enumerate(lines.items()):  # means over seeds\n"
    "        ax.plot(line[\"x\"], line[\"y\"], lw=2, marker=\"o\", ms=3, label=sampler,\n"
    "                **style(i))\n"
    "    ax.set_xlabel(\"model calls per sample (NFE)\")\n"
    "    ax.set_ylabel(metric)\n"
    "    ax.legend(loc=\"upper left\", bbox_to_anchor=(1.01, 1), fontsize=\"small\")\n"
    "    plt.show()\n";

const char export_py_curves[] =
    "runs, means = {}, {}\n"
    "for r in records(q(\"\"\"%s\"\"\")):\n"
    "    run = runs.setdefault(r[\"run_id\"], {\"hash\": r[\"config_hash\"], \"x\": [], \"y\": "
    "[]})\n"
    "    run[\"x\"].append(r[\"step\"])\n"
    "    run[\"y\"].append(num(r[\"train_loss\"]))\n"
    "for r in records(q(\"\"\"%s\"\"\")):\n"
    "    mean = means.setdefault(r[\"config_hash\"], {\"label\": r[\"configuration\"], \"x\": "
    "[], \"y\": []})\n"
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
    "        print(mean[\"label\"], \"final loss\", mean[\"y\"][-1], \"at step\", "
    "mean[\"x\"][-1])\n";

const char export_py_schedules[] =
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

const char export_py_levels[] =
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
    "                        if len(pyramids) > 1 else f'level {r[\"level\"]} ({r[\"vocab\"]} "
    "tokens)'\n"
    "                        for r in rows])\n"
    "    ax.set_xlabel(\"bytes per token on the held-out split\")\n"
    "    plt.show()\n"
    "levels\n";

const char export_py_previews[] = "for r in records(q(\"\"\"%s\"\"\", t=%g, limit=%d)):\n"
                                  "    print(f'--- {r[\"configurations\"]} (t = {r[\"t\"]}: "
                                  "{r[\"masked\"]} of {r[\"tokens\"]} '\n"
                                  "          'tokens masked)')\n"
                                  "    print(r[\"text\"])\n";

const char export_sql_samples[] = "SELECT " LABEL(
    "k",
    "'all runs'") " AS configuration,\n"
                  "       k.n,\n"
                  "       (SELECT round(b.mean, 1) FROM v_cells b WHERE b.sweep = k.sweep\n"
                  "           AND b.config_hash = k.config_hash AND b.split = 'samples'\n"
                  "           AND b.metric = 'sample_nfe') AS nfe,\n"
                  "       (SELECT round(b.mean, 4) FROM v_cells b WHERE b.sweep = k.sweep\n"
                  "           AND b.config_hash = k.config_hash AND b.split = 'samples'\n"
                  "           AND b.metric = 'sample_kl_bigram') AS kl_bigram,\n"
                  "       (SELECT round(b.mean, 4) FROM v_cells b WHERE b.sweep = k.sweep\n"
                  "           AND b.config_hash = k.config_hash AND b.split = 'samples'\n"
                  "           AND b.metric = 'sample_true_nll_bpb') AS true_nll_bpb,\n"
                  "       (SELECT round(b.mean, 4) FROM v_cells b WHERE b.sweep = k.sweep\n"
                  "           AND b.config_hash = k.config_hash AND b.split = 'samples'\n"
                  "           AND b.metric = 'sample_gen_bpb') AS gen_bpb,\n"
                  "       round(k.mean, 4) AS js2,\n"
                  "       (SELECT round(b.mean, 4) FROM v_cells b WHERE b.sweep = k.sweep\n"
                  "           AND b.config_hash = k.config_hash AND b.split = 'samples'\n"
                  "           AND b.metric = 'sample_entropy') AS entropy\n"
                  "FROM v_cells k\n"
                  "WHERE k.sweep = :sweep AND k.split = 'samples' AND k.metric = 'sample_js2'\n"
                  "ORDER BY nfe, configuration";
