/* sections.c: what the report shows, section by section: each one's query (queries.c) run
 * on the run log, its tables and its SVG charts, and the notebook's code for it. */
#include "markup.h"
#include "queries.h"
#include "report.h"
#include "svgplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building blocks ---- */

static char *dup(const char *s)
{
    return sqlite3_mprintf("%s", s);
}

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
            export_xt_free(table);
        sqlite3_free(table);
        sqlite3_free(text);
        sqlite3_free(caption);
        return -2;
    }
    s->block[s->nblocks++] =
        (struct block){.kind = kind, .table = table, .text = text, .caption = caption};
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
    if ((*rc = export_xt_query(r, sql, t))) {
        sqlite3_free(t);
        return NULL;
    }
    if (!t->nrows && !keep_empty) {
        export_xt_free(t);
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
        if (!strcmp(export_xt_at(configs, i, 0)->text, hash))
            return i;
    return 0;
}

/* Runs sql into a new table *out (sqlite3_malloc'd) for section s. Returns 1 when it has
 * rows; 0 when it has none (*out NULL, s noted `empty`); or an error (< 0). */
static int rows_or_note(struct report *r, struct section *s, const char *sql, const char *empty,
                        struct xtable **out)
{
    *out = NULL;
    struct xtable *t = sqlite3_malloc(sizeof *t);
    int rc = t ? export_xt_query(r, sql, t) : -2;
    if (!rc && t->nrows) {
        *out = t;
        return 1;
    }
    if (!rc)
        export_xt_free(t);
    sqlite3_free(t);
    return rc ? rc : note(s, "%s", empty);
}

static void table_free(struct xtable *t)
{
    export_xt_free(t);
    sqlite3_free(t);
}

/* The rows of a row chart with the strings they own. */
struct row_set {
    svg_row *row;
    char **own;
    int n, nown;
};

static int rows_alloc(struct row_set *rs, int n)
{
    rs->row = calloc((size_t)n + 1, sizeof *rs->row);
    rs->own = calloc(2 * (size_t)n + 1, sizeof *rs->own);
    rs->n = n;
    rs->nown = 0;
    return rs->row && rs->own ? 0 : -2;
}

/* Keeps s (sqlite3_malloc'd, may be NULL) to free with the rows; returns it. */
static const char *rows_keep(struct row_set *rs, char *s)
{
    if (s)
        rs->own[rs->nown++] = s;
    return s;
}

/* Unless rc, draws the rows as a chart block of s followed by table block t. Frees the
 * rows, and t when it was not added. Returns rc or the first error. */
static int rows_chart(struct section *s, const svg_row_opts *o, struct row_set *rs,
                      struct xtable *t, int rc)
{
    if (!rc) {
        sqlite3_str *svg = sqlite3_str_new(NULL);
        export_svg_row_chart(svg, o, rs->row, rs->n);
        rc = add(s, BLOCK_SVG, NULL, export_mk_finish(svg), NULL);
    }
    for (int i = 0; rs->own && i < rs->nown; i++)
        sqlite3_free(rs->own[i]);
    free(rs->own);
    free(rs->row);
    if (rc) {
        table_free(t);
        return rc;
    }
    return add(s, BLOCK_TABLE, t, NULL, NULL);
}

/* ---- the sections ---- */

/* A section that is one table, the query's result (shown even when empty). */
static int table_section(struct report *r, const char *id, const char *title, const char *intro,
                         const char *sql)
{
    struct section *s = section(r, id, title, intro, sql);
    int rc;
    table_block(r, s, sql, 1, &rc);
    return rc ? rc : code(s, sqlite3_mprintf(export_py_table, sql));
}

static int overview(struct report *r)
{
    return table_section(r, "overview", "Overview",
                         "The runs of this sweep in the run log, by status, and where and with "
                         "which code they ran.",
                         export_sql_overview);
}

static int configuration(struct report *r)
{
    struct section *s = section(r, "config", "Configuration",
                                "The sweep file as it was first run, and the factors it varies "
                                "(every combination of their levels, times the seeds).",
                                export_sql_factors);
    if (code(s, sqlite3_mprintf(export_py_config, export_sql_spec, export_sql_factors)))
        return -2;
    if (!r->sweep)
        return note(s, "%s",
                    "These runs belong to no sweep: each run's whole configuration "
                    "is in the runs table's config column.");
    struct xtable spec;
    int rc = export_xt_query(r, export_sql_spec, &spec);
    if (rc)
        return rc;
    if (spec.nrows)
        rc = add(s, BLOCK_PRE, NULL, dup(export_xt_at(&spec, 0, 0)->text), NULL);
    export_xt_free(&spec);
    if (!rc)
        table_block(r, s, export_sql_factors, 0, &rc);
    return rc;
}

static int runs(struct report *r)
{
    return table_section(r, "runs", "Runs",
                         "Every run with its configuration (the levels of the factors), status "
                         "and scores: nelbo_bpb is the canonical held-out NELBO in bits per "
                         "byte, se its Monte Carlo standard error, nelbo_bpb_sched the NELBO "
                         "under the run's own corruption, masked_acc the accuracy at masked "
                         "positions.",
                         export_sql_runs);
}

static int ablation(struct report *r)
{
    struct section *s = section(r, "ablation", "Ablation",
                                "Held-out NELBO in bits per byte (lower is better) by factor "
                                "level, pooled over the other factors and the seeds: mean over "
                                "finished runs, and the 95% confidence interval of the mean "
                                "(Student t). The columns nelbo_bpb_sched and masked_acc are "
                                "the means of those scores.",
                                export_sql_ablation);
    if (code(s, sqlite3_mprintf(export_py_ablation, export_sql_ablation)))
        return -2;
    if (!r->sweep)
        return note(s, "%s", "Runs outside a sweep have no factors to compare.");
    struct xtable *t;
    int rc = rows_or_note(r, s, export_sql_ablation, "No finished runs yet.", &t);
    if (rc <= 0)
        return rc;
    struct row_set rs;
    rc = rows_alloc(&rs, t->nrows);
    for (int i = 0, group = -1; !rc && i < t->nrows; i++) {
        const char *factor = export_xt_text(t, i, "factor");
        if (i == 0 || strcmp(factor, export_xt_text(t, i - 1, "factor")))
            group++;
        const char *label = rows_keep(&rs, dup(export_xt_text(t, i, "level")));
        rs.row[i] = (svg_row){factor,
                              label,
                              export_xt_num(t, i, "mean"),
                              export_xt_num(t, i, "ci95_lo"),
                              export_xt_num(t, i, "ci95_hi"),
                              group,
                              NULL};
        rc = label ? 0 : -2;
    }
    svg_row_opts o = {"Held-out bits per byte by factor level",
                      "held-out NELBO (bits per byte): mean and 95% CI", 0, 0};
    return rows_chart(s, &o, &rs, t, rc);
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
                                export_sql_cells);
    if (code(s, sqlite3_mprintf(export_py_cells, export_sql_cells)))
        return -2;
    if (!r->sweep)
        return note(s, "%s", "Runs outside a sweep are listed under Runs.");
    struct xtable *t;
    int rc = rows_or_note(r, s, export_sql_cells, "No finished runs yet.", &t);
    if (rc <= 0)
        return rc;
    double best = export_xt_num(t, 0, "mean") - export_xt_num(t, 0, "above_best"),
           hw = INFINITY;
    for (int i = 0; i < t->nrows; i++) {
        double h = (export_xt_num(t, i, "hi") - export_xt_num(t, i, "lo")) / 2;
        hw = h > 0 && h < hw ? h : hw;
    }
    int dec = export_svg_decimals(best, hw);
    struct row_set rs;
    rc = rows_alloc(&rs, t->nrows);
    for (int i = 0; !rc && i < t->nrows; i++) {
        double mean = export_xt_num(t, i, "mean"), above = export_xt_num(t, i, "above_best");
        const char *text =
            rows_keep(&rs, i ? sqlite3_mprintf("%.*f (+%.*f)", dec, mean, dec, above)
                             : sqlite3_mprintf("%.*f (best)", dec, mean));
        int k = config_style(configs, export_xt_text(t, i, "config_hash"));
        rs.row[i] = (svg_row){NULL,
                              export_xt_text(t, i, "configuration"),
                              above,
                              export_xt_num(t, i, "lo") - best,
                              export_xt_num(t, i, "hi") - best,
                              k,
                              text};
        rc = text ? 0 : -2;
    }
    const char *xlabel =
        rc ? NULL
           : rows_keep(&rs,
                       sqlite3_mprintf("held-out bits per byte above the best configuration "
                                       "(%s: %.*f)",
                                       export_xt_text(t, 0, "configuration"), dec, best));
    svg_row_opts o = {r->factors ? r->factors : "Held-out bits per byte", xlabel, 1, 0};
    return rows_chart(s, &o, &rs, t, rc ? rc : xlabel ? 0 : -2);
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
        if (i == 0 || strcmp(export_xt_text(t, i, key), export_xt_text(t, i - 1, key))) {
            ss->s[ss->n++] = (svg_series){
                .label = label ? export_xt_text(t, i, label) : NULL, .x = xs + i, .y = ys + i};
        }
        xs[i] = export_xt_num(t, i, x);
        ys[i] = export_xt_num(t, i, y);
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
                                export_sql_curves);
    if (code(s, sqlite3_mprintf(export_py_curves, export_sql_curves, export_sql_curve_means)))
        return -2;
    struct xtable runs, means;
    int rc = export_xt_query(r, export_sql_curves, &runs);
    if (rc)
        return rc;
    if ((rc = export_xt_query(r, export_sql_curve_means, &means))) {
        export_xt_free(&runs);
        return rc;
    }
    if (!runs.nrows) {
        export_xt_free(&runs);
        export_xt_free(&means);
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
        const char *hash = export_xt_text(&runs, (int)(sr.s[i].x - sr.xy), "config_hash");
        int seeds = 0;
        for (int j = 0; j < sr.n; j++)
            seeds +=
                !strcmp(hash, export_xt_text(&runs, (int)(sr.s[j].x - sr.xy), "config_hash"));
        if (seeds < 2)
            continue;
        all[n] = sr.s[i];
        config_look(&all[n], config_style(configs, hash));
        all[n].width = 0.8;
        all[n++].opacity = 0.35;
    }
    for (int i = 0; all && i < sm.n; i++) {
        all[n] = sm.s[i];
        config_look(&all[n],
                    config_style(configs, export_xt_text(&means, (int)(sm.s[i].x - sm.xy),
                                                         "config_hash")));
        all[n++].width = 2.2;
    }
    if (all) {
        sqlite3_str *svg = sqlite3_str_new(NULL);
        svg_line_opts o = {"Training loss",
                           "step",
                           "training loss (nats/token)",
                           r->factors,
                           NAN,
                           NAN,
                           NAN,
                           NAN,
                           0,
                           400};
        export_svg_line_chart(svg, &o, all, n);
        rc = add(s, BLOCK_SVG, NULL, export_mk_finish(svg), NULL);
    } else {
        rc = -2;
    }
    free(all);
    series_free(&sr);
    series_free(&sm);
    export_xt_free(&runs);
    export_xt_free(&means);
    return rc;
}

/* The end of the run of series i.. that belong to one metric (the table's `metric` column of
 * each series' first row): the series of one chart. */
static int metric_end(const struct xtable *t, const struct series_set *ss, int i)
{
    const char *metric = export_xt_text(t, (int)(ss->s[i].x - ss->xy), "metric");
    int j = i;
    while (j < ss->n &&
           !strcmp(metric, export_xt_text(t, (int)(ss->s[j].x - ss->xy), "metric")))
        j++;
    return j;
}

/* Learning curves: every curve_* metric (held-out scores at points of training), one chart
 * each, a line per configuration (the mean over its finished seeds). */
static int heldout(struct report *r, const struct xtable *configs)
{
    struct section *s =
        section(r, "learning", "Learning curves",
                "Held-out bits per byte at points of training (the runs' curve_* metrics, "
                "each scored on score.curve_tokens held-out tokens, fewer than the final "
                "scores): for each configuration the mean over its finished seeds, so that "
                "where one configuration overtakes another shows.",
                export_sql_heldout);
    if (code(s, sqlite3_mprintf(export_py_heldout, export_sql_heldout)))
        return -2;
    struct xtable *t;
    int rc = rows_or_note(r, s, export_sql_heldout,
                          "No learning curves: no finished run logged held-out scores during "
                          "training (score.curve_every).",
                          &t);
    if (rc <= 0)
        return rc;
    struct series_set ss = {0};
    rc = series_from(&ss, t, "series", "step", "bpb", "configuration");
    for (int i = 0; !rc && i < ss.n;) {
        const char *metric = export_xt_text(t, (int)(ss.s[i].x - ss.xy), "metric");
        int j = metric_end(t, &ss, i);
        for (int k = i; k < j; k++)
            config_look(&ss.s[k],
                        config_style(configs, export_xt_text(t, (int)(ss.s[k].x - ss.xy),
                                                             "config_hash")));
        char *title = sqlite3_mprintf("%s", metric + 6),
             *ylabel = sqlite3_mprintf("%s (held-out bits/byte)", metric + 6);
        if (!title || !ylabel) {
            rc = -2;
        } else {
            sqlite3_str *svg = sqlite3_str_new(NULL);
            svg_line_opts o = {title, "step", ylabel, r->factors, NAN, NAN, NAN, NAN, 0, 400};
            export_svg_line_chart(svg, &o, ss.s + i, j - i);
            rc = add(s, BLOCK_SVG, NULL, export_mk_finish(svg), NULL);
        }
        sqlite3_free(title);
        sqlite3_free(ylabel);
        i = j;
    }
    series_free(&ss);
    table_free(t);
    return rc;
}

/* Sample quality against model calls: every quality score of the runs' samples (split
 * `samples`, all but the calls and the length), one chart each, a line per sampler (the
 * factor levels but the number of steps) through its step counts, each point the mean over
 * the configuration's seeds at its mean number of model calls. */
static int frontier(struct report *r)
{
    struct section *s =
        section(r, "frontier", "Sample quality against model calls",
                "Each quality score of the generated samples (split samples) against the "
                "model calls a sample took (sample_nfe): for each sampler, its settings "
                "but the number of steps, a line through its step counts, each point the "
                "mean over a configuration's finished seeds. Where one sampler's line lies "
                "below or above another's at equal calls is the frontier.",
                export_sql_frontier);
    if (code(s, sqlite3_mprintf(export_py_frontier, export_sql_frontier)))
        return -2;
    struct xtable *t;
    int rc = rows_or_note(r, s, export_sql_frontier,
                          "No sample quality: no finished run of this sweep logged scores of "
                          "its samples (score.samples).",
                          &t);
    if (rc <= 0)
        return rc;
    struct series_set ss = {0};
    rc = series_from(&ss, t, "series", "nfe", "value", "sampler");
    for (int i = 0; !rc && i < ss.n;) {
        const char *metric = export_xt_text(t, (int)(ss.s[i].x - ss.xy), "metric");
        int j = metric_end(t, &ss, i);
        for (int k = i; k < j; k++)
            config_look(&ss.s[k], k - i);
        sqlite3_str *svg = sqlite3_str_new(NULL);
        svg_line_opts o = {
            metric, "model calls per sample (NFE)", metric, "sampler", NAN, NAN, NAN, NAN, 0,
            400};
        export_svg_line_chart(svg, &o, ss.s + i, j - i);
        rc = add(s, BLOCK_SVG, NULL, export_mk_finish(svg), NULL);
        i = j;
    }
    series_free(&ss);
    table_free(t);
    return rc;
}

/* The generated samples per configuration: calls, the oracle's exact errors, the reference
 * scores. */
static int samples(struct report *r)
{
    struct section *s =
        section(r, "samples", "Samples",
                "The generated samples of each configuration, means over the seeds: model "
                "calls per sample (nfe), and for a run on the markov source the exact errors "
                "(kl_bigram: KL in nats of the samples' bigrams from the chain's; "
                "true_nll_bpb: their exact NLL under the chain), beside gen_bpb (under "
                "sample.reference), js2 (bigram JS divergence from the held-out text, bits) "
                "and the mean unigram entropy (bits).",
                export_sql_samples);
    struct xtable *t;
    int rc = rows_or_note(r, s, export_sql_samples, "No run of this sweep logged samples.", &t);
    if (rc < 0)
        return rc;
    if (t && (rc = add(s, BLOCK_TABLE, t, NULL, NULL)))
        return rc;
    return code(s, sqlite3_mprintf(export_py_table, export_sql_samples));
}

/* The note of a section whose table came with schema version 2. */
static int needs_v2(struct report *r, struct section *s, const char *what)
{
    if (r->version >= 2)
        return 1;
    note(s,
         "This run log (schema version 1) holds no %s: runs logged by a newer pyramask "
         "record them.",
         what);
    return 0;
}

static int schedules(struct report *r)
{
    struct section *s = section(r, "schedules", "Schedules",
                                "The masking schedules of the runs: alpha(t), the probability "
                                "that a token is kept at diffusion time t (1 - alpha(t) is the "
                                "expected masked fraction). A curriculum that changes the "
                                "schedule shows it at its last step too.",
                                export_sql_schedules);
    if (code(s, sqlite3_mprintf(export_py_schedules, export_sql_schedules)))
        return -2;
    if (!needs_v2(r, s, "schedule curves"))
        return s->note ? 0 : -2;
    struct xtable t;
    int rc = export_xt_query(r, export_sql_schedules, &t);
    if (rc)
        return rc;
    if (!t.nrows) {
        export_xt_free(&t);
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
        svg_line_opts o = {"Masking schedules",
                           "t (diffusion time)",
                           "alpha(t): probability a token is kept",
                           "schedule",
                           0,
                           1,
                           0,
                           1,
                           560,
                           340};
        export_svg_line_chart(svg, &o, ss.s, ss.n);
        rc = add(s, BLOCK_SVG, NULL, export_mk_finish(svg), NULL);
    }
    series_free(&ss);
    export_xt_free(&t);
    return rc;
}

static int pyramid(struct report *r)
{
    struct section *s =
        section(r, "pyramid", "Vocabulary pyramid",
                "Each level of the runs' pyramids measured on the held-out "
                "split: vocabulary size, tokens, bytes per token, and the share "
                "of the level's vocabulary the split uses (used_pct). Level 0 "
                "is the bytes; role marks the level the denoiser reads.",
                export_sql_levels);
    if (code(s, sqlite3_mprintf(export_py_levels, export_sql_levels)))
        return -2;
    if (!needs_v2(r, s, "pyramid statistics"))
        return s->note ? 0 : -2;
    struct xtable *t;
    int rc = rows_or_note(r, s, export_sql_levels, "No pyramid statistics recorded.", &t);
    if (rc <= 0)
        return rc;
    int several = 0;
    for (int i = 1; i < t->nrows; i++)
        several |=
            strcmp(export_xt_text(t, i, "pyramid"), export_xt_text(t, 0, "pyramid")) != 0;
    struct row_set rs;
    rc = rows_alloc(&rs, t->nrows);
    for (int i = 0, group = -1; !rc && i < t->nrows; i++) {
        if (i == 0 ||
            strcmp(export_xt_text(t, i, "pyramid"), export_xt_text(t, i - 1, "pyramid")))
            group++;
        const char *label = rows_keep(
            &rs, sqlite3_mprintf("level %s (%s tokens)%s", export_xt_text(t, i, "level"),
                                 export_xt_text(t, i, "vocab"),
                                 *export_xt_text(t, i, "role") ? ", model" : ""));
        rs.row[i] = (svg_row){several ? export_xt_text(t, i, "levels") : NULL,
                              label,
                              export_xt_num(t, i, "bytes_per_token"),
                              NAN,
                              NAN,
                              group,
                              NULL};
        rc = label ? 0 : -2;
    }
    svg_row_opts o = {"Bytes per token by level", "bytes per token on the held-out split", 1,
                      0};
    return rows_chart(s, &o, &rs, t, rc);
}

/* The mask types' names of a preview (a JSON array) as the block's marks. */
static int mark_names(struct report *r, struct block *b, const char *json)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "SELECT value FROM json_each(?1) WHERE type = 'text'", -1,
                           &st, NULL) != SQLITE_OK) {
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
                                export_sql_previews);
    if (code(s, sqlite3_mprintf(export_py_previews, export_sql_previews, r->preview_t,
                                r->max_previews)))
        return -2;
    if (!needs_v2(r, s, "corrupted-text previews"))
        return s->note ? 0 : -2;
    struct xtable t;
    int rc = export_xt_query(r, export_sql_previews, &t);
    if (rc)
        return rc;
    if (!t.nrows)
        rc = note(s, "%s", "No previews recorded at this t.");
    for (int i = 0; !rc && i < t.nrows; i++) {
        char *caption =
            sqlite3_mprintf("%s (t = %s: %s of %s tokens masked)",
                            export_xt_text(&t, i, "configurations"), export_xt_text(&t, i, "t"),
                            export_xt_text(&t, i, "masked"), export_xt_text(&t, i, "tokens"));
        rc = add(s, BLOCK_PRE, NULL, dup(export_xt_text(&t, i, "text")), caption);
        if (!rc)
            rc = mark_names(r, &s->block[s->nblocks - 1], export_xt_text(&t, i, "types"));
    }
    export_xt_free(&t);
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
        r->setup_code = sqlite3_mprintf(export_py_setup, sqlite3_column_text(st, 0),
                                        sqlite3_column_text(st, 1), export_sql_configs,
                                        export_sql_factor_keys);
    else
        snprintf(r->msg, sizeof r->msg, "%s", sqlite3_errmsg(r->db));
    sqlite3_finalize(st);
    return rc ? -1 : r->setup_code ? 0 : -2;
}

int export_report_build(struct report *r)
{
    struct xtable configs, keys;
    int rc = export_xt_query(r, export_sql_configs, &configs);
    if (rc)
        return rc;
    if ((rc = export_xt_query(r, export_sql_factor_keys, &keys))) {
        export_xt_free(&configs);
        return rc;
    }
    if (keys.nrows) {
        sqlite3_str *b = sqlite3_str_new(NULL);
        for (int i = 0; i < keys.nrows; i++)
            sqlite3_str_appendf(b, "%s%s", i ? " · " : "", export_xt_at(&keys, i, 0)->text);
        r->factors = export_mk_finish(b);
        rc = r->factors ? 0 : -2;
    }
    export_xt_free(&keys);
    if (!rc)
        rc = setup_code(r);
    if (!rc)
        rc = overview(r);
    if (!rc)
        rc = configuration(r);
    if (!rc)
        rc = ablation(r);
    if (!rc)
        rc = cells(r, &configs);
    if (!rc)
        rc = curves(r, &configs);
    if (!rc)
        rc = heldout(r, &configs);
    if (!rc)
        rc = frontier(r);
    if (!rc)
        rc = samples(r);
    if (!rc)
        rc = schedules(r);
    if (!rc)
        rc = pyramid(r);
    if (!rc)
        rc = previews(r);
    if (!rc)
        rc = runs(r);
    export_xt_free(&configs);
    if (rc == -2)
        snprintf(r->msg, sizeof r->msg, "out of memory");
    return rc;
}
