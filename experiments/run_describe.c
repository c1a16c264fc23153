/* run_describe.c: what a run records about its inputs, for reports: its pyramid's levels
 * measured on the held-out split, the schedule's alpha(t) on a grid, corrupted-text previews. */
#include "preview.h"
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    GRID = 101,                /* t = 0, 0.01, ..., 1 */
    STATS_MAX_BYTES = 1 << 22, /* the levels are measured on at most this much held-out text */
    PREVIEW_BYTES = 600,       /* as `mask preview` without a file */
    NPREVIEWS = 3,
};
static const double preview_t[NPREVIEWS] = {0.25, 0.5, 0.75};

struct level_stat {
    const char *stage;
    long vocab, tokens, used;
};

struct description {
    struct runlog *rl;
    int64_t id;
    const char *pyramid;
    int nlevels; /* levels 0..nlevels-1 */
    struct level_stat level[TOK_MAX_LEVELS + 1];
    long bytes;
    int ncurves;
    char name[2][32], label[2][64];
    double t[GRID], alpha[2][GRID];
    char *preview[NPREVIEWS];
    struct preview_count count[NPREVIEWS];
    char **types; /* the mask types' names (borrowed from the handle) */
    int ntypes;
};

/* Every level of the pyramid on (the start of) the validation split. */
static int measure_levels(struct description *D, const struct run_ctx *x,
                          char err[CONFIG_ERR_MAX])
{
    size_t len = x->corpus.valid_len < STATS_MAX_BYTES ? x->corpus.valid_len : STATS_MAX_BYTES;
    int L = tok_nlevels(x->tok);
    uint8_t *seen = malloc((size_t)tok_ntokens(x->tok));
    tok_encoder *e = NULL;
    tok_ids ids = {0};
    int rc = seen ? tok_encoder_open(&e, x->tok) : TOK_ENOMEM;
    for (int k = 0; !rc && k <= L; k++) {
        if ((rc = tok_encode(e, k, x->corpus.valid, len, &ids)))
            break;
        memset(seen, 0, (size_t)tok_ntokens(x->tok));
        long used = 0;
        for (size_t i = 0; i < ids.n; i++)
            if (!seen[ids.ids[i]]) {
                seen[ids.ids[i]] = 1;
                used++;
            }
        D->level[k] = (struct level_stat){k == 0                             ? "byte"
                                          : k == tok_superword_level(x->tok) ? "superword"
                                                                             : "subword",
                                          tok_vocab_size(x->tok, k), (long)ids.n, used};
    }
    tok_ids_free(&ids);
    tok_encoder_close(&e);
    free(seen);
    if (rc)
        return config_fail(err, "measuring the pyramid: %s", tok_strerror(rc));
    D->nlevels = L + 1;
    D->bytes = (long)len;
    return 0;
}

static void schedule_label(const mask_schedule *s, char *out, size_t n)
{
    if (s->type->param_default != 0)
        snprintf(out, n, "%s:%g", s->type->name, s->param);
    else
        snprintf(out, n, "%s", s->type->name);
}

/* alpha(t) of the schedule at step 0 and, for a curriculum that changes it, at the end. */
static void sample_schedules(struct description *D, const struct run_ctx *x)
{
    const mask_curriculum *c = mask_get_curriculum(x->mask);
    mask_schedule s[2];
    mask_curriculum_at(c, 0, &s[0]);
    mask_curriculum_at(c, x->v->train.steps, &s[1]);
    D->ncurves = s[1].type != s[0].type || s[1].param != s[0].param ? 2 : 1;
    for (int k = 0; k < D->ncurves; k++) {
        if (k == 0)
            snprintf(D->name[k], sizeof D->name[k], "alpha");
        else
            snprintf(D->name[k], sizeof D->name[k], "alpha@%ld", x->v->train.steps);
        schedule_label(&s[k], D->label[k], sizeof D->label[k]);
        for (int i = 0; i < GRID; i++) {
            D->t[i] = (double)i / (GRID - 1);
            D->alpha[k][i] = mask_schedule_alpha(&s[k], D->t[i]);
        }
    }
}

/* The start of the validation split corrupted at a few t, as `mask preview` shows it. */
static int render_previews(struct description *D, struct run_ctx *x, char err[CONFIG_ERR_MAX])
{
    size_t len;
    const char *text = preview_valid_text(x, PREVIEW_BYTES, &len);
    mask_set_step(x->mask, 0);
    D->ntypes = mask_n_types(x->mask);
    D->types = calloc((size_t)D->ntypes + 1, sizeof *D->types);
    if (!D->types)
        return config_fail(err, "out of memory");
    for (int k = 0; k < D->ntypes; k++) {
        const char *name = mask_type_name(x->mask, k);
        D->types[k] = (char *)(name ? name : "mask");
    }
    for (int i = 0; i < NPREVIEWS; i++) {
        size_t size;
        FILE *f = open_memstream(&D->preview[i], &size);
        if (!f)
            return config_fail(err, "out of memory");
        int rc = preview_render(x, text, len, preview_t[i], 1, 0, f, &D->count[i], err);
        if (fclose(f) && !rc)
            rc = config_fail(err, "out of memory");
        if (rc)
            return -1;
    }
    return 0;
}

static int write_tx(void *user)
{
    struct description *D = user;
    for (int k = 0; k < D->nlevels; k++) {
        const struct level_stat *l = &D->level[k];
        if (runlog_pyramid_level(D->rl, D->id, D->pyramid, k, l->stage, l->vocab, l->tokens,
                                 D->bytes, l->used))
            return -1;
    }
    for (int k = 0; k < D->ncurves; k++)
        if (runlog_curve(D->rl, D->id, D->name[k], D->label[k], GRID, D->t, D->alpha[k]))
            return -1;
    for (int i = 0; i < NPREVIEWS; i++)
        if (runlog_preview(D->rl, D->id, preview_t[i], 1, D->preview[i], D->count[i].masked,
                           D->count[i].tokens, D->types, D->ntypes))
            return -1;
    return 0;
}

int run_describe(struct runlog *rl, int64_t id, struct run_ctx *x, char err[CONFIG_ERR_MAX])
{
    struct description *D = calloc(1, sizeof *D);
    if (!D)
        return config_fail(err, "out of memory");
    D->rl = rl;
    D->id = id;
    D->pyramid = x->pyramid_hash;
    int rc = measure_levels(D, x, err);
    if (!rc) {
        sample_schedules(D, x);
        rc = render_previews(D, x, err);
    }
    if (!rc && runlog_transaction(rl, write_tx, D))
        rc = config_fail(err, "%s", runlog_errmsg(rl));
    for (int i = 0; i < NPREVIEWS; i++)
        free(D->preview[i]);
    free(D->types);
    free(D);
    return rc;
}
