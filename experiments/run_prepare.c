/* run_prepare.c: from a config to the run's inputs: corpus split, pyramid, encoded splits,
 * libmask handles (the run's and the canonical one) with corpus statistics and priors. */
#include "run_prepare.h"
#include "pyramid_cache.h"

#include <gsl/gsl_rng.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STAT_WINDOWS = 4096 }; /* training windows read for priors and idf/surprisal */

void run_schedule_spec(const struct config_values *v, char *out, size_t n)
{
    if (*v->mask.curriculum) {
        snprintf(out, n, "%s", v->mask.curriculum);
        return;
    }
    char param[48] = "", range[96] = "";
    if (!strcmp(v->mask.schedule, "poly"))
        snprintf(param, sizeof param, ":%.17g", v->mask.poly_w);
    else if (!strcmp(v->mask.schedule, "loglinear"))
        snprintf(param, sizeof param, ":%.17g", v->mask.eps);
    if (v->mask.t_lo != 0 || v->mask.t_hi != 1)
        snprintf(range, sizeof range, "[%.17g,%.17g]", v->mask.t_lo, v->mask.t_hi);
    snprintf(out, n, "%s%s%s", v->mask.schedule, param, range);
}

/* Feeds the idf/surprisal statistics (corpus) and the per-type counts (priors). */
static int feed(mask *m, const struct run_ctx *x, int corpus, int priors,
                char err[CONFIG_ERR_MAX])
{
    const struct dataset *d = &x->train;
    size_t nw = d->n / (size_t)x->T;
    if (nw > STAT_WINDOWS)
        nw = STAT_WINDOWS;
    struct window w;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r || window_alloc(&w, x->T, x->nlevels, x->prompt)) {
        gsl_rng_free(r);
        return config_fail(err, "out of memory");
    }
    gsl_rng_set(r, (unsigned long)x->v->train.seed * 7919u + 17u);
    int rc = 0;
    int need_corpus = corpus && (!strcmp(x->v->mask.importance, "idf") ||
                                 !strcmp(x->v->mask.importance, "surprisal"));
    for (size_t i = 0; need_corpus && i < nw && !rc; i++)
        rc = mask_corpus_add(m, d->ids + i * (size_t)x->T, x->T);
    for (size_t i = 0; priors && i < nw && !rc; i++) {
        mask_seq seq;
        dataset_window(d, i * (size_t)x->T, &w, &seq);
        rc = mask_prior_add(m, &seq, r);
    }
    if (rc)
        config_fail(err, "mask statistics: %s", mask_errmsg(m));
    window_free(&w);
    gsl_rng_free(r);
    return rc ? -1 : 0;
}

int run_mask_open(mask **out, const struct run_ctx *x, int canonical, int K,
                  char err[CONFIG_ERR_MAX])
{
    return run_mask_open_sched(out, x, canonical, K, NULL, err);
}

int run_mask_open_sched(mask **out, const struct run_ctx *x, int canonical, int K,
                        const char *schedule, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    mask_settings s;
    mask_default_settings(&s);
    char spec[512], why[256];
    run_schedule_spec(v, spec, sizeof spec);
    s.vocab_size = x->V;
    s.n_types = K;
    s.schedule = schedule ? schedule : canonical ? v->score.schedule : spec;
    if (mask_time_sampler_parse(v->mask.time, &s.sampler, why, sizeof why) ||
        mask_structure_parse(canonical ? "token" : v->mask.structure, &s.structure, why,
                             sizeof why) ||
        mask_type_policy_parse(v->mask.types, &s.types, why, sizeof why))
        return config_fail(err, "%s", why);
    s.n_levels = x->nlevels;
    s.unit_level = !strcmp(v->mask.structure, "unit") && !canonical
                       ? (int)(v->mask.unit_level - v->tokenizer.model_level)
                       : 0;
    s.span_p = v->mask.span_p;
    s.span_max = (int)v->mask.span_max;
    s.regex = v->mask.regex;
    s.block_size = (int)v->mask.block;
    s.class_rules = strcmp(v->mask.classes, "default") ? v->mask.classes : NULL;
    /* mask.importance names a source, or else is a rule file */
    const char *imp = v->mask.importance;
    if (!config_key_choice(config_key_index("mask.importance"), imp)) {
        s.importance = MASK_IMPORTANCE_RULES;
        s.importance_rules = imp;
    } else if (mask_importance_source_parse(imp, &s.importance, why, sizeof why)) {
        return config_fail(err, "%s", why);
    }
    if (mask_importance_mode_parse(canonical ? "off" : v->mask.importance_mode,
                                   &s.importance_mode, why, sizeof why))
        return config_fail(err, "%s", why);
    s.importance_strength = v->mask.importance_strength;
    s.prior_alpha = v->mask.prior_alpha;
    if (!canonical && x->maps.n) {
        s.chain_length = x->maps.n;
        s.chain_shape = v->mask.chain_shape;
        for (int l = 0; l < x->maps.n; l++) {
            s.chain_map[l] = x->maps.map[l];
            s.chain_size[l] = x->maps.size[l];
        }
    }
    int rc = mask_open(out, &s);
    if (rc) {
        config_fail(err, "%s: mask: %s",
                    x->c ? config_where(x->c, config_key_index("mask.types")) : "",
                    mask_errmsg(*out));
        mask_close(out);
        return -1;
    }
    return feed(*out, x, 1, 0, err) ? (mask_close(out), -1) : 0;
}

int run_chain_spec(struct run_ctx *x, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    memset(&x->chain, 0, sizeof x->chain);
    if (chain_flat(v->mask.chain))
        return 0;
    int top = tok_nlevels(x->tok), size[TOK_MAX_LEVELS + 2], n_classes = 0;
    for (int l = 0; l <= top; l++)
        size[l] = tok_vocab_size(x->tok, l);
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 1;
    s.class_rules = strcmp(v->mask.classes, "default") ? v->mask.classes : NULL;
    mask *mk = NULL;
    int rc = mask_open(&mk, &s);
    if (!rc && (n_classes = mask_n_classes(mk)) < 0)
        rc = n_classes;
    if (rc) {
        config_fail(err, "%s: mask.classes: %s",
                    config_where(x->c, config_key_index("mask.classes")), mask_errmsg(mk));
        mask_close(&mk);
        return -1;
    }
    mask_close(&mk);
    char why[1024];
    if (chain_parse(v->mask.chain, (int)v->tokenizer.model_level, size, top, n_classes,
                    &x->chain, why, sizeof why))
        return config_fail(err, "%s: mask.chain: %s (with the pyramid %s)",
                           config_where(x->c, config_key_index("mask.chain")), why,
                           x->pyramid_path);
    return 0;
}

/* Builds the chain's maps and the model's layout (nothing for a flat run). */
static int chain_prepare(struct run_ctx *x, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    if (run_chain_spec(x, err))
        return -1;
    if (!x->chain.n)
        return 0;
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = x->V;
    s.class_rules = strcmp(v->mask.classes, "default") ? v->mask.classes : NULL;
    mask *classifier = NULL;
    int rc = mask_open(&classifier, &s);
    if (rc) {
        config_fail(err, "mask.classes: %s", mask_errmsg(classifier));
        mask_close(&classifier);
        return -1;
    }
    rc = chain_build(&x->maps, &x->chain, x->tok, (int)v->tokenizer.model_level, classifier,
                     x->train.ids, x->train.n, x->corpus.train, x->corpus.train_len,
                     (unsigned long)v->mask.cluster_seed, err, CONFIG_ERR_MAX);
    mask_close(&classifier);
    return rc ? -2 : 0;
}

/* data.source = markov: the chain from markov_seed, then the training and held-out splits
 * as independent windows of model.seq_len symbols drawn from it. */
static int markov_prepare(struct run_ctx *x, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return config_fail(err, "out of memory"), -2;
    gsl_rng_set(r, (unsigned long)v->data.markov_seed);
    oracle_chain(&x->markov, (int)v->data.markov_alphabet, v->data.markov_conc, r);
    size_t T = (size_t)x->T;
    int rc = oracle_dataset(&x->train, &x->markov_text[0], &x->markov, r,
                            (size_t)v->data.markov_train / T, x->T) ||
             oracle_dataset(&x->valid, &x->markov_text[1], &x->markov, r,
                            (size_t)v->data.markov_valid / T, x->T);
    gsl_rng_free(r);
    if (rc)
        return config_fail(err, "out of memory"), -2;
    x->oracle = &x->markov;
    x->V = x->markov.A;
    x->nlevels = 0;
    snprintf(x->pyramid_path, sizeof x->pyramid_path, "markov");
    return 0;
}

/* data.eot: both splits packed (their documents each followed by CORPUS_EOT) into
 * x->packed, which text and len then name, and the byte's model-level id in x->eot_id. */
static int pack_eot(struct run_ctx *x, const char *text[2], size_t len[2],
                    char err[CONFIG_ERR_MAX])
{
    const struct corpus *cp = &x->corpus;
    const size_t *ends[2] = {cp->train_ends, cp->valid_ends};
    size_t ndocs[2] = {cp->ntrain_docs, cp->nvalid_docs};
    for (int s = 0; s < 2; s++) {
        if (!(x->packed[s] = corpus_pack_eot(text[s], len[s], ends[s], ndocs[s], &len[s])))
            return config_fail(err, "out of memory"), -2;
        text[s] = x->packed[s];
    }
    x->eot_id = dataset_byte_id(x->tok, (int)x->v->tokenizer.model_level, CORPUS_EOT);
    return 0;
}

/* data.eot: every packed end-of-text byte is one model-level token of its own, x->eot_id (a
 * pyramid given by tokenizer.pyramid and trained on text that holds the byte may have merged
 * it with its neighbours). */
static int check_eot(const struct run_ctx *x, char err[CONFIG_ERR_MAX])
{
    size_t want = x->corpus.ntrain_docs + x->corpus.nvalid_docs, got = 0;
    const struct dataset *d[2] = {&x->train, &x->valid};
    for (int s = 0; s < 2 && x->eot_id >= 0; s++) {
        const size_t *st = d[s]->align.start[d[s]->lo];
        for (size_t i = 0; i < d[s]->n; i++)
            got += d[s]->ids[i] == x->eot_id && st[i + 1] - st[i] == 1;
    }
    if (got != want)
        return config_fail(
            err,
            "%s: data.eot: the pyramid does not keep the end-of-text byte 0x%02x "
            "a token of its own (%zu of %zu document ends are; a pyramid "
            "trained on text that holds the byte merges it)",
            config_where(x->c, config_key_index("data.eot")), CORPUS_EOT, got, want);
    return 0;
}

int run_prepare(struct run_ctx *x, const struct config *c, const char *cache_dir, int K_min,
                char err[CONFIG_ERR_MAX])
{
    memset(x, 0, sizeof *x);
    x->c = c;
    x->eot_id = -1;
    x->v = config_values(c);
    x->T = (int)x->v->model.seq_len;
    x->prompt = !strcmp(x->v->mask.structure, "response") ? (int)x->v->mask.prompt : 0;
    int rc;
    if (!strcmp(x->v->data.source, "markov")) {
        if ((rc = markov_prepare(x, err)))
            return rc;
    } else {
        if ((rc = corpus_load(&x->corpus, c, err)))
            return rc;
        rc = pyramid_get(&x->tok, c, &x->corpus, cache_dir, x->pyramid_path, x->pyramid_hash,
                         err);
        if (rc)
            return rc;
        int lo = (int)x->v->tokenizer.model_level;
        x->V = tok_vocab_size(x->tok, lo);
        x->nlevels = tok_nlevels(x->tok) - lo;
        const char *text[2] = {x->corpus.train, x->corpus.valid};
        size_t len[2] = {x->corpus.train_len, x->corpus.valid_len};
        if (x->v->data.eot && (rc = pack_eot(x, text, len, err)))
            return rc;
        int nt = (int)x->v->train.threads;
        if ((rc = dataset_encode(&x->train, x->tok, lo, text[0], len[0], nt)) ||
            (rc = dataset_encode(&x->valid, x->tok, lo, text[1], len[1], nt)))
            return config_fail(err, "encoding the corpus: %s", tok_strerror(rc)), -2;
        if (x->v->data.eot && (rc = check_eot(x, err)))
            return rc;
    }
    if (x->train.n < (size_t)x->T + 1 || x->valid.n < (size_t)x->T)
        return config_fail(
            err,
            "%s: data.corpus: %zu training and %zu validation tokens, fewer than "
            "model.seq_len = %d (more data, or a shorter model.seq_len)",
            config_where(c, config_key_index("data.corpus")), x->train.n, x->valid.n, x->T);
    if ((rc = chain_prepare(x, err)))
        return rc;
    /* the run's corruption: K from its policy unless a checkpoint fixes more */
    if (run_mask_open(&x->mask, x, 0, 0, err))
        return -1;
    x->K = mask_n_types(x->mask);
    if (K_min > x->K) {
        mask_close(&x->mask);
        if (run_mask_open(&x->mask, x, 0, K_min, err))
            return -1;
        x->K = K_min;
    }
    if (feed(x->mask, x, 0, 1, err))
        return -1;
    x->prior = malloc((size_t)x->K * (size_t)x->V * sizeof *x->prior);
    if (!x->prior)
        return config_fail(err, "out of memory"), -2;
    if ((rc = mask_prior_export(x->mask, x->prior)))
        return config_fail(err, "mask priors: %s", mask_errmsg(x->mask)), -2;
    if (x->maps.n && chain_layout(x->mask, &x->layout_start, &x->members, &x->n_desc))
        return config_fail(err, "out of memory"), -2;
    return 0;
}

void run_ctx_free(struct run_ctx *x)
{
    mask_close(&x->mask);
    free(x->prior);
    chain_maps_free(&x->maps);
    free(x->layout_start);
    free(x->members);
    dataset_free(&x->train);
    dataset_free(&x->valid);
    free(x->markov_text[0]);
    free(x->markov_text[1]);
    free(x->packed[0]);
    free(x->packed[1]);
    tok_close(&x->tok);
    corpus_free(&x->corpus);
    memset(x, 0, sizeof *x);
}
