/* samples.c: iterative unmasking through libmodel's samplers, decoding with libtok; the
 * infill input is plain text with [MASK] / [MASK:n] holes; a trained run's samples file. */
#include "samples.h"
#include "config.h"
#include "safe_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *samples_strategy_name(int i)
{
    return model_strategy_name((model_strategy)i);
}

const char *samples_strategy_list(char *out, size_t n)
{
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; model_strategy_name((model_strategy)i) && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "",
                                 model_strategy_name((model_strategy)i));
    return out;
}

int samples_strategy_parse(const char *name, model_strategy *out)
{
    return name && model_strategy_parse(name, out, NULL, 0) == 0 ? 0 : -1;
}

static int is_chain_strategy(model_strategy s)
{
    return s == MODEL_SAMPLE_CHAIN || s == MODEL_SAMPLE_CHAIN_CONFIDENCE;
}

/* A header's note on the sampler: for the chain strategy, the share of positions that move
 * two levels or more in one step. */
static void sampler_note(model *m, const struct sample_opts *o, char *note, size_t n)
{
    model_strategy st;
    note[0] = 0;
    if (samples_strategy_parse(o->strategy, &st) || st != MODEL_SAMPLE_CHAIN || !o->chain ||
        !o->chain->n)
        return;
    struct chain_sampler cs;
    char err[256];
    if (chain_sampler_open(&cs, m, o->chain, o->shape, o->steps, err, sizeof err))
        return;
    snprintf(note, n, ", %.1f%% of positions jump two levels or more in a step", 100 * cs.jump);
    chain_sampler_free(&cs);
}

void samples_opts_from_config(struct sample_opts *o, const struct config_values *v)
{
    o->temperature = v->sample.temperature;
    o->top_p = v->sample.top_p;
    o->threshold = v->sample.threshold;
    o->factor = v->sample.factor;
    o->eta = v->sample.eta;
    o->t_on = v->sample.t_on;
    o->t_off = v->sample.t_off;
    o->alpha_on = v->sample.alpha_on;
    o->remdm_schedule = v->sample.remdm_schedule;
    if (v->sample.block > 0)
        o->block = (int)v->sample.block;
    o->eot = -1;
}

/* lengths (B) NULL: no end of text (infill); else o->eot cuts and lengths gets the lengths */
static int run_sampler(model *m, const struct sample_opts *o, int32_t *ids, int B, int T,
                       int *lengths, gsl_rng *r, char *err, size_t errlen)
{
    model_sample_settings s;
    model_default_sample_settings(&s);
    if (lengths && o->eot >= 0) {
        s.eot = o->eot;
        s.lengths = lengths;
    } else if (lengths) {
        for (int b = 0; b < B; b++)
            lengths[b] = T;
    }
    s.temperature = (float)o->temperature;
    s.top_p = (float)o->top_p;
    s.threshold = (float)o->threshold;
    s.factor = (float)o->factor;
    s.eta = (float)o->eta;
    s.t_on = (float)o->t_on;
    s.t_off = (float)o->t_off;
    s.alpha_on = (float)o->alpha_on;
    s.remdm_schedule = -1;
    for (int i = 0; model_remdm_schedule_name(i); i++)
        if (o->remdm_schedule && !strcmp(o->remdm_schedule, model_remdm_schedule_name(i)))
            s.remdm_schedule = i;
    if (s.remdm_schedule < 0) {
        snprintf(err, errlen, "unknown remdm schedule '%s' (cap, rescale, conf, loop)",
                 o->remdm_schedule ? o->remdm_schedule : "");
        return -1;
    }
    if (samples_strategy_parse(o->strategy, &s.strategy)) {
        char list[128];
        snprintf(err, errlen, "unknown strategy '%s' (%s)", o->strategy,
                 samples_strategy_list(list, sizeof list));
        return -1;
    }
    s.steps = o->steps;
    s.block_len = o->block > 0 ? o->block : 16;
    if (s.strategy == MODEL_SAMPLE_BLOCK) {
        int nb = (T + s.block_len - 1) / s.block_len;
        if (s.steps < nb)
            s.steps = nb;
    }
    struct chain_sampler cs = {0};
    if (is_chain_strategy(s.strategy)) {
        if (!o->chain || !o->chain->n) {
            snprintf(err, errlen,
                     "strategy '%s' needs a checkpoint trained with a chain (its mask.chain is "
                     "empty)",
                     o->strategy);
            return -1;
        }
        int rc = chain_sampler_open(&cs, m, o->chain, o->shape, s.steps, err, errlen);
        if (rc)
            return rc;
        s.chain = &cs.chain;
    }
    int rc = model_sample(m, ids, B, T, &s, r);
    chain_sampler_free(&cs);
    if (rc) {
        snprintf(err, errlen, "sampling: %s", model_errmsg(m));
        return rc == MODEL_EINVAL ? -1 : -2; /* settings the sampler refuses: bad usage */
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Generates o's n sequences into ids (n, T) and their lengths (n) and prints them, measuring
 * q (NULL: not). */
static int generate(model *m, const tok *t, const struct sample_opts *o, int n, gsl_rng *r,
                    FILE *out, int32_t *ids, int *lengths, struct quality *q, char *err,
                    size_t errlen);

static int print_ids(const tok *t, int level, const int32_t *ids, int n, FILE *out, char *err,
                     size_t errlen)
{
    uint8_t *buf;
    size_t len;
    tok_err te = {0};
    int rc = tok_decode(t, level, ids, (size_t)n, &buf, &len, &te);
    if (rc) {
        snprintf(err, errlen, "decoding: %s", te.msg[0] ? te.msg : tok_strerror(rc));
        return -2;
    }
    fwrite(buf, 1, len, out);
    if (!len || buf[len - 1] != '\n')
        fputc('\n', out);
    free(buf);
    return 0;
}

int samples_generate(model *m, const tok *t, const struct sample_opts *o, int n, gsl_rng *r,
                     FILE *out, char *err, size_t errlen)
{
    const model_config *mc = model_get_config(m);
    int32_t *ids = malloc((size_t)n * (size_t)mc->seq_len * sizeof *ids);
    int *lengths = malloc((size_t)n * sizeof *lengths);
    if (!ids || !lengths) {
        free(ids);
        free(lengths);
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    int rc = generate(m, t, o, n, r, out, ids, lengths, NULL, err, errlen);
    free(ids);
    free(lengths);
    return rc;
}

static int generate(model *m, const tok *t, const struct sample_opts *o, int n, gsl_rng *r,
                    FILE *out, int32_t *ids, int *lengths, struct quality *q, char *err,
                    size_t errlen)
{
    const model_config *mc = model_get_config(m);
    int T = mc->seq_len;
    for (size_t i = 0; i < (size_t)n * (size_t)T; i++)
        ids[i] = mc->vocab; /* mask id 0 */
    if (mc->mode == MODEL_AR) {
        /* nothing predicts an ar model's first position: every sequence starts at a line
         * break (the first id of "\n" at the model level) */
        tok_encoder *e = NULL;
        tok_ids nl = {0};
        int erc = tok_encoder_open(&e, t) ? -1 : tok_encode(e, o->level, "\n", 1, &nl);
        if (erc || nl.n < 1 || nl.ids[0] >= mc->vocab) {
            tok_ids_free(&nl);
            tok_encoder_close(&e);
            snprintf(err, errlen, "ar decoding: cannot encode a line break to start from");
            return -2;
        }
        for (int b = 0; b < n; b++)
            ids[(size_t)b * T] = nl.ids[0];
        tok_ids_free(&nl);
        tok_encoder_close(&e);
    }
    long calls0 = model_calls(m);
    double t0 = now_s();
    int rc = run_sampler(m, o, ids, n, T, lengths, r, err, errlen);
    if (q) {
        double dt = now_s() - t0;
        q->model_calls = model_calls(m) - calls0;
        q->tokens_per_s = dt > 0 ? (double)n * T / dt : NAN;
    }
    char note[96];
    sampler_note(m, o, note, sizeof note);
    for (int b = 0; b < n && !rc; b++) {
        if (o->eot >= 0)
            fprintf(out, "--- generated %d (%s, %d steps%s, %d tokens%s) ---\n", b + 1,
                    o->strategy, o->steps, note, lengths[b],
                    lengths[b] < T ? ", then the end of text" : ", no end of text");
        else
            fprintf(out, "--- generated %d (%s, %d steps%s) ---\n", b + 1, o->strategy,
                    o->steps, note);
        rc = print_ids(t, o->level, ids + (size_t)b * T, lengths[b], out, err, errlen);
    }
    return rc;
}

/* Infill with holes of unknown length: ids[0..*n) the text with its holes (masks), the
 * window T padded with the end of text, decoded by model_varlen_sample with the model's
 * [expand]/[delete] classes; *n the length it ends at. */
static int varlen_infill(model *m, const struct sample_opts *o, int32_t *ids, int *n, int T,
                         gsl_rng *r, char *err, size_t errlen)
{
    model_varlen_settings s = {0};
    if (model_varlen_use_model(&s, m)) {
        snprintf(err, errlen,
                 "a hole of unknown length ([MASK:?]) needs a model with [expand] and [delete] "
                 "(trained with model.edit = true)");
        return -1;
    }
    if (o->eot < 0) {
        snprintf(err, errlen, "a hole of unknown length needs the end-of-text id (data.eot)");
        return -1;
    }
    s.pad_id = o->eot;
    s.steps = o->steps;
    s.temperature = (float)o->temperature;
    for (int i = *n; i < T; i++)
        ids[i] = o->eot;
    char why[256] = "";
    int rc = model_varlen_sample(&s, ids, n, 1, T, r, why, sizeof why);
    if (rc) {
        snprintf(err, errlen, "variable-length sampling: %s", why[0] ? why : model_errmsg(m));
        return rc == MODEL_EINVAL || rc == MODEL_ERANGE ? -1 : -2;
    }
    return 0;
}

int samples_infill(model *m, const tok *t, const struct sample_opts *o, const char *text,
                   gsl_rng *r, FILE *out, char *err, size_t errlen)
{
    const model_config *mc = model_get_config(m);
    int T = mc->seq_len, n = 0, rc = 0, unknown = 0, holes = 0;
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    tok_encoder *e = NULL;
    tok_ids enc = {0};
    if (!ids || tok_encoder_open(&e, t)) {
        free(ids);
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    const char *p = text;
    while (*p && !rc) {
        const char *hole = strstr(p, "[MASK");
        size_t seg = hole ? (size_t)(hole - p) : strlen(p);
        if (seg) {
            if ((rc = tok_encode(e, o->level, p, seg, &enc))) {
                snprintf(err, errlen, "encoding: %s", tok_strerror(rc));
                rc = -2;
                break;
            }
            if (n + (int)enc.n > T) {
                snprintf(err, errlen, "the text is longer than the model's %d tokens", T);
                rc = -1;
                break;
            }
            memcpy(ids + n, enc.ids, enc.n * sizeof *ids);
            n += (int)enc.n;
        }
        if (!hole)
            break;
        int len = 1;
        const char *end = strchr(hole, ']');
        if (hole[5] == ':' && hole[6] == '?' && hole + 7 == end)
            unknown++; /* one mask that the variable-length sampler grows or removes */
        else if (hole[5] == ':')
            len = atoi(hole + 6);
        if (!end || (hole[5] != ']' && hole[5] != ':') || len < 1) {
            snprintf(err, errlen, "bad hole near '%.16s' (write [MASK], [MASK:n] or [MASK:?])",
                     hole);
            rc = -1;
            break;
        }
        holes++;
        if (n + len > T) {
            snprintf(err, errlen, "the text is longer than the model's %d tokens", T);
            rc = -1;
            break;
        }
        for (int i = 0; i < len; i++)
            ids[n++] = mc->vocab;
        p = end + 1;
    }
    if (!rc && n == 0) {
        snprintf(err, errlen, "empty text");
        rc = -1;
    }
    if (!rc && !holes) {
        snprintf(err, errlen,
                 "no hole to fill (write [MASK], [MASK:n] or [MASK:?] where text is missing)");
        rc = -1;
    }
    if (!rc && unknown)
        rc = varlen_infill(m, o, ids, &n, T, r, err, errlen);
    else if (!rc)
        rc = run_sampler(m, o, ids, 1, n, NULL, r, err, errlen);
    if (!rc) {
        char note[96];
        sampler_note(m, o, note, sizeof note);
        fprintf(out, "--- infilled (%s, %d steps%s) ---\n", o->strategy, o->steps, note);
        rc = print_ids(t, o->level, ids, n, out, err, errlen);
    }
    tok_ids_free(&enc);
    tok_encoder_close(&e);
    free(ids);
    return rc;
}

int samples_log_quality(struct runlog *rl, int64_t run_id, long step, const struct quality *q,
                        char *err, size_t errlen)
{
    const struct {
        const char *name;
        double v;
    } rows[] = {
        {"sample_entropy", q->entropy},        {"sample_distinct_1", q->distinct[0]},
        {"sample_distinct_2", q->distinct[1]}, {"sample_distinct_3", q->distinct[2]},
        {"sample_repetition", q->repetition},  {"sample_js2", q->js2 >= 0 ? q->js2 : NAN},
        {"sample_nfe", q->model_calls},        {"sample_length", q->length},
        {"sample_gen_bpb", q->gen_bpb}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if ((i + 1 < sizeof rows / sizeof rows[0] || !isnan(rows[i].v)) &&
            runlog_score(rl, run_id, "samples", rows[i].name, rows[i].v, NAN, q->n)) {
            snprintf(err, errlen, "%s", runlog_errmsg(rl));
            return -1;
        }
    /* a timing, not a score: the metrics table's, as the training throughput */
    if (runlog_metric(rl, run_id, step, "sample_tokens_per_s", q->tokens_per_s)) {
        snprintf(err, errlen, "%s", runlog_errmsg(rl));
        return -1;
    }
    return 0;
}

/* Whether the files a and b hold the same bytes (the same pyramid by content, however its
 * path is spelled: a run's cached pyramid is named relative to the run log, a checkpoint's
 * metadata may name it by another path). 1 same, 0 different, -1 when one cannot be read
 * (errno kept). */
static int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fa ? fopen(b, "rb") : NULL;
    int same = -1;
    if (fa && fb) {
        char ba[8192], bb[8192];
        for (;;) {
            size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
            if (na != nb || memcmp(ba, bb, na)) {
                same = 0;
                break;
            }
            if (na < sizeof ba) {
                same = ferror(fa) || ferror(fb) ? -1 : 1;
                break;
            }
        }
    }
    if (fb)
        fclose(fb);
    if (fa)
        fclose(fa);
    return same;
}

/* Bits per byte of n sequences (n, T) under the ar checkpoint `path`: each sequence's tokens
 * 1..T-1 predicted from the ones before, over the bytes they decode to. The checkpoint must
 * be an ar model of the run's tokenizer (the same pyramid file and model level). Returns 0,
 * or -1 with err. */
static int gen_bpb(const char *path, const struct run_ctx *x, const int32_t *ids,
                   const int *lengths, int n, int T, double *bpb, char *err, size_t errlen)
{
    model *ref = NULL;
    char *meta = NULL, cerr[CONFIG_ERR_MAX];
    int rc = -1;
    struct config *c = NULL;
    int32_t *tgt = malloc((size_t)T * sizeof *tgt);
    float *lp = malloc((size_t)T * sizeof *lp);
    if (!tgt || !lp) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (model_load(&ref, path, 0, &meta)) {
        snprintf(err, errlen, "sample.reference %s: %s", path, model_errmsg(ref));
        goto done;
    }
    const model_config *mc = model_get_config(ref);
    if (mc->mode != MODEL_AR) {
        snprintf(err, errlen, "sample.reference %s: a %s model, not ar", path,
                 model_mode_name(mc->mode));
        goto done;
    }
    c = config_new();
    if (!c || config_load_string(c, meta ? meta : "", path, cerr) || config_finish(c, cerr)) {
        snprintf(err, errlen, "sample.reference %s: metadata: %s", path,
                 c ? cerr : "out of memory");
        goto done;
    }
    const struct config_values *rv = config_values(c);
    int same = strcmp(rv->tokenizer.pyramid, x->pyramid_path)
                   ? same_bytes(rv->tokenizer.pyramid, x->pyramid_path)
                   : 1;
    if (same < 0) {
        snprintf(err, errlen,
                 "sample.reference %s: comparing its pyramid %s with the run's %s: %s", path,
                 rv->tokenizer.pyramid, x->pyramid_path, strerror(errno));
        goto done;
    }
    if (!same || rv->tokenizer.model_level != x->v->tokenizer.model_level ||
        mc->vocab != x->V) {
        snprintf(err, errlen,
                 "sample.reference %s: another tokenizer (pyramid %s level %ld, %d ids), not "
                 "the run's (pyramid %s level %ld, %d ids)",
                 path, rv->tokenizer.pyramid, rv->tokenizer.model_level, mc->vocab,
                 x->pyramid_path, x->v->tokenizer.model_level, x->V);
        goto done;
    }
    if (mc->seq_len < T) {
        snprintf(err, errlen, "sample.reference %s: %d positions, the samples have %d", path,
                 mc->seq_len, T);
        goto done;
    }
    double bits = 0.0, bytes = 0.0;
    for (int b = 0; b < n; b++) {
        const int32_t *s = ids + (size_t)b * T;
        memcpy(tgt, s + 1, (size_t)(T - 1) * sizeof *tgt);
        tgt[T - 1] = s[0]; /* the last row predicts past the sample: not counted */
        if (model_score(ref, s, tgt, 1, T, lp)) {
            snprintf(err, errlen, "sample.reference %s: %s", path, model_errmsg(ref));
            goto done;
        }
        /* a sample cut at an end of text: its tokens and the end of text, the rest not */
        int L = lengths[b] < T ? lengths[b] + 1 : T;
        for (int t = 0; t + 1 < L; t++)
            bits -= lp[t] / M_LN2;
        uint8_t *txt = NULL;
        size_t len = 0;
        tok_err te = {0};
        if (L > 1 && tok_decode(x->tok, (int)x->v->tokenizer.model_level, s + 1,
                                (size_t)(L - 1), &txt, &len, &te)) {
            snprintf(err, errlen, "decoding: %s", te.msg);
            goto done;
        }
        bytes += (double)len;
        free(txt);
    }
    *bpb = bytes > 0 ? bits / bytes : NAN;
    rc = 0;
done:
    config_free(&c);
    free(meta);
    free(tgt);
    free(lp);
    model_close(&ref);
    return rc;
}

/* A trained run's sampler: score.sample_strategy and sample_steps, the [sample] parameters,
 * the run's chain and its end of text. */
static void run_sample_opts(struct sample_opts *o, const struct run_ctx *x)
{
    const struct config_values *v = x->v;
    *o = (struct sample_opts){.level = (int)v->tokenizer.model_level,
                              .steps = (int)v->score.sample_steps,
                              .strategy = v->score.sample_strategy,
                              .block = (int)v->mask.block,
                              .chain = &x->chain,
                              .shape = v->mask.chain_shape};
    samples_opts_from_config(o, v);
    o->eot = x->eot_id;
}

int samples_write_run(model *m, const struct run_ctx *x, const char *path, struct quality *q,
                      char *err, size_t errlen)
{
    const struct config_values *v = x->v;
    const int T = x->T;
    struct safe_file sf;
    if (safe_file_open(&sf, path, err, errlen))
        return -2;
    FILE *f = sf.f;
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!ids || !r) {
        free(ids);
        gsl_rng_free(r);
        safe_file_abort(&sf);
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    gsl_rng_set(r, (unsigned long)v->train.seed + 101u);
    struct sample_opts o;
    run_sample_opts(&o, x);
    int32_t *gen = malloc((size_t)v->score.samples * (size_t)T * sizeof *gen);
    int *lengths = malloc((size_t)v->score.samples * sizeof *lengths);
    int rc = gen && lengths ? generate(m, x->tok, &o, (int)v->score.samples, r, f, gen, lengths,
                                       q, err, errlen)
                            : (snprintf(err, errlen, "out of memory"), -2);
    if (!rc && q) {
        long nref = (long)(x->valid.n < (size_t)1 << 20 ? x->valid.n : (size_t)1 << 20);
        struct quality meas;
        quality_measure_cut(&meas, gen, (int)v->score.samples, T, o.eot >= 0 ? lengths : NULL,
                            o.eot, x->valid.ids, (size_t)nref);
        meas.model_calls = q->model_calls;
        meas.tokens_per_s = q->tokens_per_s;
        meas.gen_bpb = NAN;
        *q = meas;
        if (v->sample.reference && v->sample.reference[0])
            rc = gen_bpb(v->sample.reference, x, gen, lengths, (int)v->score.samples, T,
                         &q->gen_bpb, err, errlen);
    }
    free(gen);
    free(lengths);
    /* infill: a validation window, its middle half masked */
    const struct dataset *d = &x->valid;
    const size_t *at = d->align.start[d->lo];
    size_t nw = d->n / (size_t)T;
    for (long i = 0; !rc && i < v->score.samples && nw; i++) {
        size_t start = ((size_t)i * 7919u % nw) * (size_t)T;
        memcpy(ids, d->ids + start, (size_t)T * sizeof *ids);
        for (int j = T / 4; j < T - T / 4; j++)
            ids[j] = x->V;
        if ((rc = run_sampler(m, &o, ids, 1, T, NULL, r, err, errlen)))
            break;
        size_t a0 = at[start], b0 = at[start + (size_t)(T / 4)];
        size_t b1 = at[start + (size_t)(T - T / 4)];
        fprintf(f, "--- infill %ld: original, middle tokens %d..%d hidden ---\n", i + 1, T / 4,
                T - T / 4 - 1);
        fwrite(d->text + a0, 1, b0 - a0, f);
        fputs("[[", f);
        fwrite(d->text + b0, 1, b1 - b0, f);
        fputs("]]\n--- infill: the denoiser's ---\n", f);
        uint8_t *txt;
        size_t len;
        tok_err te;
        if (tok_decode(x->tok, o.level, ids, (size_t)T, &txt, &len, &te) == 0) {
            fwrite(txt, 1, len, f);
            fputc('\n', f);
            free(txt);
        }
    }
    free(ids);
    gsl_rng_free(r);
    if (rc) {
        safe_file_abort(&sf);
        return -2;
    }
    return safe_file_commit(&sf, err, errlen) ? -2 : 0;
}

int samples_span_bits(model *m, const int32_t *win, int T, int a, int L, int32_t *ids,
                      float *lp, double *bits)
{
    const int V = model_get_config(m)->vocab;
    *bits = 0.0;
    for (int i = 0; i < L; i++) {
        memcpy(ids, win, (size_t)T * sizeof *ids);
        for (int j = i; j < L; j++)
            ids[a + j] = V;
        int rc = model_score(m, ids, win, 1, T, lp);
        if (rc)
            return rc;
        *bits -= lp[a + i] / M_LN2;
    }
    return 0;
}

int samples_infill_scores(model *m, const struct run_ctx *x, struct runlog *rl, int64_t run_id,
                          char *err, size_t errlen)
{
    const struct config_values *v = x->v;
    const int T = x->T, V = x->V, nh = (int)v->score.infill, Lmax = (int)v->score.infill_max;
    const struct dataset *d = &x->valid;
    const size_t *at = d->align.start[d->lo];
    size_t nw = d->n / (size_t)T;
    if (nh <= 0 || !nw)
        return 0;
    struct sample_opts o;
    run_sample_opts(&o, x);
    model_varlen_settings vs = {0};
    int edit = x->eot_id >= 0 && model_get_config(m)->n_edit > 0 &&
               model_varlen_use_model(&vs, m) == MODEL_OK;
    vs.pad_id = x->eot_id;
    vs.steps = o.steps;
    vs.temperature = (float)o.temperature;
    int32_t *win = malloc((size_t)T * sizeof *win), *ids = malloc((size_t)T * sizeof *ids);
    float *lp = malloc((size_t)T * sizeof *lp);
    gsl_rng *holes = gsl_rng_alloc(gsl_rng_mt19937), *r = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = -1;
    if (!win || !ids || !lp || !holes || !r) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    gsl_rng_set(holes, (unsigned long)v->score.seed + 202u);
    gsl_rng_set(r, (unsigned long)v->train.seed + 303u);
    double exact_g = 0, right_g = 0, tokens = 0, bits = 0, bytes = 0, exact_h = 0, len_h = 0;
    for (int h = 0; h < nh; h++) {
        size_t start = (size_t)gsl_rng_uniform_int(holes, nw) * (size_t)T;
        int L = 1 + (int)gsl_rng_uniform_int(holes, (unsigned long)Lmax);
        int a = T / 4 + (int)gsl_rng_uniform_int(holes, (unsigned long)(T / 2 - L + 1));
        memcpy(win, d->ids + start, (size_t)T * sizeof *win);
        /* the length given: the run's sampler fills L masks */
        memcpy(ids, win, (size_t)T * sizeof *ids);
        for (int i = 0; i < L; i++)
            ids[a + i] = V;
        if (run_sampler(m, &o, ids, 1, T, NULL, r, err, errlen))
            goto done;
        int same = 1;
        for (int i = 0; i < L; i++) {
            right_g += ids[a + i] == win[a + i];
            same &= ids[a + i] == win[a + i];
        }
        exact_g += same;
        tokens += L;
        double b;
        if (samples_span_bits(m, win, T, a, L, ids, lp, &b)) {
            snprintf(err, errlen, "infill: %s", model_errmsg(m));
            goto done;
        }
        bits += b;
        bytes += (double)(at[start + (size_t)(a + L)] - at[start + (size_t)a]);
        if (!edit)
            continue;
        /* the length hidden: one mask, the model's [expand] and [delete] choose it */
        int n = 0;
        for (int i = 0; i < T; i++)
            if (i < a || i >= a + L)
                ids[n++] = win[i];
            else if (i == a)
                ids[n++] = V;
        int len = n;
        for (int i = n; i < T; i++)
            ids[i] = x->eot_id;
        char why[256] = "";
        int e = model_varlen_sample(&vs, ids, &len, 1, T, r, why, sizeof why);
        if (e) {
            snprintf(err, errlen, "infill of unknown length: %s",
                     why[0] ? why : model_errmsg(m));
            goto done;
        }
        len_h += len == T;
        exact_h += len == T && !memcmp(ids, win, (size_t)T * sizeof *ids);
    }
    const struct {
        const char *name;
        double v;
    } rows[] = {{"infill_exact_given", exact_g / nh},
                {"infill_token_acc_given", right_g / tokens},
                {"infill_bpb_given", bytes > 0 ? bits / bytes : NAN},
                {"infill_exact_hidden", exact_h / nh},
                {"infill_length_right_hidden", len_h / nh}};
    for (int i = 0; i < (edit ? 5 : 3); i++)
        if (runlog_score(rl, run_id, "infill", rows[i].name, rows[i].v, NAN, nh)) {
            snprintf(err, errlen, "%s", runlog_errmsg(rl));
            goto done;
        }
    rc = 0;
done:
    free(win);
    free(ids);
    free(lp);
    gsl_rng_free(holes);
    gsl_rng_free(r);
    return rc;
}

int samples_run_ids(model *m, const struct run_ctx *x, int32_t *ids, int n, gsl_rng *r,
                    long *calls, char *err, size_t errlen)
{
    struct sample_opts o;
    run_sample_opts(&o, x);
    o.eot = -1;
    const int T = x->T, V = model_get_config(m)->vocab;
    for (size_t i = 0; i < (size_t)n * (size_t)T; i++)
        ids[i] = V;
    long c0 = model_calls(m);
    int rc = run_sampler(m, &o, ids, n, T, NULL, r, err, errlen);
    *calls = model_calls(m) - c0;
    return rc;
}
