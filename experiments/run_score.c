/* run_score.c: scoring a denoiser and logging the scores (shared by train and score runs),
 * and the score run: a config's corruption against an existing checkpoint. */
#include "cli.h"
#include "run.h"
#include "scoring.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opens a corruption handle for scoring (canonical or the run's own) with its side code
 * fitted. The run's own corruption in importance_mode loss is scored with the mode off: the
 * masks are the same, and the loss-mode weights are not the ELBO's. A chain's own corruption
 * is scored under libmask's scoring schedule for it (a finite-variance estimator; the bound
 * does not depend on the base schedule) or score.chain_schedule, whose spec goes into `sched`
 * (else ""). */
static int open_scored(mask **mk, mask_side **side, const struct run_ctx *x, int canonical,
                       char sched[64], char err[CONFIG_ERR_MAX])
{
    struct run_ctx y = *x;
    struct config_values v = *x->v;
    if (!canonical && !strcmp(v.mask.importance_mode, "loss")) {
        v.mask.importance_mode = "off";
        y.v = &v;
    }
    *mk = NULL;
    *side = NULL;
    sched[0] = 0;
    if (run_mask_open(mk, &y, canonical, x->K, err))
        return -1;
    if (!canonical && mask_chain_length(*mk) > 0) {
        mask_schedule s = mask_chain_scoring_schedule(*mk);
        if (strcmp(v.score.chain_schedule, "auto"))
            snprintf(sched, 64, "%s", v.score.chain_schedule);
        else
            snprintf(sched, 64, "%s:%.17g", s.type->name, s.param);
        mask_close(mk);
        if (run_mask_open_sched(mk, &y, 0, x->K, sched, err))
            return -1;
    }
    if (mask_side_open(side, *mk)) {
        config_fail(err, "side code: %s", mask_errmsg(*mk));
        mask_close(mk);
        return -1;
    }
    if (score_side_fit(*side, *mk, &y, err)) {
        mask_side_close(side);
        mask_close(mk);
        return -1;
    }
    return 0;
}

void run_evaluator_close(struct run_evaluator *e)
{
    for (int i = 0; i < 2; i++) {
        mask_side_close(&e->side[i]);
        mask_close(&e->mk[i]);
    }
    free(e->ulogp);
    memset(e, 0, sizeof *e);
}

/* 1 when the run's own corruption, as scored, is the canonical one: token masking on
 * score.schedule (the same spec), no chain, and no importance mode that changes the masks
 * (loss is scored with the mode off). Both then draw the same masks from the same seed, and
 * one scoring gives both results bit for bit. */
static int own_is_canonical(const struct run_ctx *x)
{
    const struct config_values *v = x->v;
    char spec[512];
    run_schedule_spec(v, spec, sizeof spec);
    return !x->maps.n && !strcmp(v->mask.structure, "token") &&
           (!strcmp(v->mask.importance_mode, "off") ||
            !strcmp(v->mask.importance_mode, "loss")) &&
           !strcmp(spec, v->score.schedule);
}

int run_evaluator_open(struct run_evaluator *e, const struct run_ctx *x,
                       char err[CONFIG_ERR_MAX])
{
    memset(e, 0, sizeof *e);
    char sched[64];
    if (!(e->ulogp = score_unigram_logp(x)))
        return config_fail(err, "out of memory");
    e->own_is_canon = own_is_canonical(x);
    /* the canonical corruption: token masking, score.schedule, the run's mask types; it also
     * gives the unigram code length of the same tokens and the accuracy */
    for (int i = 0; i < 2 - e->own_is_canon; i++) {
        if (open_scored(&e->mk[i], &e->side[i], x, i == 0, i ? e->own_schedule : sched, err)) {
            run_evaluator_close(e);
            return -1;
        }
        e->reveals[i] = mask_side_reveals(e->side[i]);
    }
    if (e->own_is_canon)
        e->reveals[1] = e->reveals[0];
    return 0;
}

int run_evaluator_score(struct run_evaluator *e, model *m, const struct run_ctx *x, long step,
                        long max_tokens, int accuracy, struct score_result *canon,
                        struct score_result *own, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    struct score_opts so = {.max_tokens = max_tokens,
                            .t_samples = (int)v->score.t_samples,
                            .replicates = (int)v->score.replicates,
                            .seed = (unsigned long)v->score.seed,
                            .step = step,
                            .buckets = accuracy ? (int)v->score.buckets : 0,
                            .unigram_logp = e->ulogp};
    if (score_time_density(v, &so.t_sqrt))
        return config_fail(err, "score.time_density: '%s'", v->score.time_density);
    so.side = e->side[0];
    if (score_nelbo(m, e->mk[0], x, &so, canon, err))
        return -1;
    if (e->own_is_canon) {
        *own = *canon;
        return 0;
    }
    so.buckets = 0;
    so.unigram_logp = NULL;
    so.side = e->side[1];
    return score_nelbo(m, e->mk[1], x, &so, own, err);
}

/* The name of the run's own bound: a NELBO conditional on what it does not pay for is not a
 * bound, and gets another name. */
static const char *own_name(const struct run_evaluator *e)
{
    return e->reveals[1] & MASK_REVEALS_RATES ? "nelbo_bpb_sched_cond" : "nelbo_bpb_sched";
}

int run_curve_point(struct runlog *rl, int64_t id, long step, const char *name, double value,
                    double se)
{
    char key[96];
    snprintf(key, sizeof key, "curve_%s", name);
    if (runlog_metric(rl, id, step, key, value))
        return -1;
    snprintf(key, sizeof key, "curve_%s_se", name);
    return runlog_metric(rl, id, step, key, se);
}

int run_curve_evaluate(struct runlog *rl, int64_t id, struct run_evaluator *e, model *m,
                       const struct run_ctx *x, long step, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    struct score_result canon, own;
    long budget = v->score.curve_tokens ? v->score.curve_tokens : v->score.max_tokens;
    if (run_evaluator_score(e, m, x, step, budget, 0, &canon, &own, err))
        return -1;
    const double ln2 = log(2.0);
    if (run_curve_point(rl, id, step, "nelbo_bpb", canon.nats / ln2 / canon.bytes,
                        canon.se / ln2 / canon.bytes) ||
        run_curve_point(rl, id, step, own_name(e), own.nats / ln2 / own.bytes,
                        own.se / ln2 / own.bytes))
        return config_fail(err, "%s", runlog_errmsg(rl));
    return 0;
}

int run_evaluate(struct runlog *rl, int64_t id, model *m, const struct run_ctx *x, long step,
                 char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    struct run_evaluator e;
    struct score_result canon, own;
    if (run_evaluator_open(&e, x, err))
        return -1;
    int rc = run_evaluator_score(&e, m, x, step, v->score.max_tokens, 1, &canon, &own, err);
    const char *sched_name = own_name(&e);
    char own_schedule[64];
    snprintf(own_schedule, sizeof own_schedule, "%s", e.own_schedule);
    run_evaluator_close(&e);
    if (rc)
        return -1;
    const double ln2 = log(2.0);
    double bytes = canon.bytes;
    int bad =
        (own_schedule[0] && runlog_param(rl, id, "score.chain_schedule_used", own_schedule)) ||
        runlog_score(rl, id, "valid", "nelbo_bpb", canon.nats / ln2 / bytes,
                     canon.se / ln2 / bytes, canon.tokens) ||
        runlog_score(rl, id, "valid", "nelbo_bpt", canon.nats / ln2 / (double)canon.tokens,
                     canon.se / ln2 / (double)canon.tokens, canon.tokens) ||
        runlog_score(rl, id, "valid", "type_bpb", canon.type_nats / ln2 / bytes, NAN,
                     canon.tokens) ||
        runlog_score(rl, id, "valid", "part_bpb", canon.part_nats / ln2 / bytes, NAN,
                     canon.tokens) ||
        runlog_score(rl, id, "valid", sched_name, own.nats / ln2 / own.bytes,
                     own.se / ln2 / own.bytes, own.tokens) ||
        runlog_score(rl, id, "valid", "type_bpb_sched", own.type_nats / ln2 / own.bytes, NAN,
                     own.tokens) ||
        runlog_score(rl, id, "valid", "part_bpb_sched", own.part_nats / ln2 / own.bytes, NAN,
                     own.tokens) ||
        runlog_score(rl, id, "valid", "bytes_per_token", bytes / (double)canon.tokens, NAN,
                     canon.tokens) ||
        runlog_score(rl, id, "valid", "unigram_bpb", canon.unigram_nats / ln2 / bytes, NAN,
                     canon.tokens);
    /* accuracy: a diffusion model's (an ar or block model's score has none) */
    int buckets =
        !m || model_get_config(m)->mode == MODEL_DIFFUSION ? (int)v->score.buckets : 0;
    for (int k = 0; !bad && k < buckets && k < SCORE_MAX_BUCKETS; k++) {
        char name[32];
        snprintf(name, sizeof name, "masked_acc_b%d", k + 1);
        bad = runlog_score(rl, id, "valid", name, canon.bucket_acc[k], canon.bucket_se[k],
                           canon.bucket_masked[k]);
    }
    if (!bad && canon.masked)
        bad =
            runlog_score(rl, id, "valid", "masked_acc", canon.acc, canon.acc_se, canon.masked);
    if (bad) {
        snprintf(err, CONFIG_ERR_MAX, "%s", runlog_errmsg(rl));
        return -1;
    }
    return 0;
}

/* Keys the checkpoint fixes: what the denoiser was built and trained on. */
static const char *const fixed_keys[] = {
    "tokenizer.pyramid",     "tokenizer.levels", "tokenizer.superword", "tokenizer.pretok",
    "tokenizer.model_level", "model.d",          "model.layers",        "model.heads",
    "model.seq_len",         "mask.chain",       "mask.cluster_seed"};

int run_load_checkpoint(model **m, const char *path, int threads, char **meta,
                        const char *label)
{
    int rc = model_load(m, path, threads, meta);
    if (!rc)
        return 0;
    if (*m && model_errmsg(*m)[0]) /* the library's message names the file */
        cli_error(label, "%s", model_errmsg(*m));
    else
        cli_error(label, "%s: %s", path, model_strerror(rc));
    model_close(m);
    return CLI_USAGE;
}

int run_score(const struct config *c, const char *checkpoint, const struct run_opts *o)
{
    const char *label = o->label ? o->label : "score";
    char err[CONFIG_ERR_MAX];
    model *m = NULL;
    char *meta = NULL;
    if (!strcmp(config_values(c)->data.source, "markov")) {
        cli_error(label, "data.source = markov: no checkpoint is scored on it (pyramask train "
                         "with model.kind = oracle scores the oracle)");
        return CLI_USAGE;
    }
    int rc =
        run_load_checkpoint(&m, checkpoint, (int)config_values(c)->train.threads, &meta, label);
    if (rc)
        return rc;
    /* the scored config: the given one, with what the checkpoint fixes taken from it */
    struct config *trained = config_new(), *sc = config_copy(c);
    int status = CLI_OK;
    if (!trained || !sc || config_load_string(trained, meta ? meta : "", checkpoint, err)) {
        if (!trained || !sc)
            snprintf(err, sizeof err, "out of memory");
        cli_error(label, "%s: metadata: %s", checkpoint, err);
        status = CLI_USAGE;
    }
    for (size_t i = 0; !status && i < sizeof fixed_keys / sizeof *fixed_keys; i++) {
        char set[8192];
        int k = config_key_index(fixed_keys[i]);
        snprintf(set, sizeof set, "%s=%s", fixed_keys[i], config_value(trained, k));
        if (config_set_arg(sc, set, err)) {
            cli_error(label, "%s", err);
            status = CLI_USAGE;
        }
    }
    if (!status && config_finish(sc, err)) {
        cli_error(label, "%s (with the checkpoint's tokenizer and model)", err);
        status = CLI_USAGE;
    }
    config_free(&trained);
    free(meta);
    if (!status) { /* a checkpoint of one mode scored as another */
        const struct config_values *v = config_values(sc);
        if (model_expect_mode(m, v->model.mode_id, (int)v->model.block)) {
            cli_error(label, "%s: %s (model.mode)", checkpoint, model_errmsg(m));
            status = CLI_USAGE;
        }
    }
    if (status) {
        config_free(&sc);
        model_close(&m);
        return status;
    }
    struct runlog *rl;
    if (runlog_open(&rl, o->db_path, 1, err)) {
        cli_error(label, "%s: %s", o->db_path, err);
        config_free(&sc);
        model_close(&m);
        return CLI_USAGE;
    }
    int64_t id;
    char uid[33];
    if (runlog_claim(rl, o->sweep_id, "score", sc, &id, uid) != RUNLOG_CLAIMED) {
        cli_error(label, "%s: %s", o->db_path, runlog_errmsg(rl));
        runlog_close(&rl);
        config_free(&sc);
        model_close(&m);
        return CLI_FAIL;
    }
    run_catch_signals();
    char cache[4096], runs[4096];
    run_dirs(o->db_path, cache, runs);
    struct run_ctx x;
    const model_config *mc = model_get_config(m);
    rc = run_prepare(&x, sc, cache, mc->n_mask, err);
    if (!rc && (x.V != mc->vocab || x.K != mc->n_mask || x.n_desc != mc->n_desc)) {
        snprintf(err, sizeof err,
                 "%s: the checkpoint has %d tokens, %d mask types and %d descriptions; this "
                 "config gives %d, %d and %d (mask.types, mask.chain)",
                 checkpoint, mc->vocab, mc->n_mask, mc->n_desc, x.V, x.K, x.n_desc);
        rc = -1;
    }
    if (!rc) {
        const struct config_values *v = config_values(sc);
        int e = model_set_prior(m, v->model.prior_bias ? x.prior : NULL);
        if (e) {
            snprintf(err, sizeof err, "model prior: %s", model_errmsg(m));
            rc = -2;
        }
    }
    if (!rc && (runlog_artifact(rl, id, "checkpoint", checkpoint) ||
                runlog_artifact(rl, id, "pyramid", x.pyramid_path))) {
        snprintf(err, sizeof err, "%s", runlog_errmsg(rl));
        rc = -2;
    }
    if (!rc && run_describe(rl, id, &x, err))
        rc = -2;
    if (!rc && run_evaluate(rl, id, m, &x, model_step(m), err))
        rc = -2;
    status = rc == 0           ? CLI_OK
             : run_stop_signal ? RUN_INTERRUPTED
             : rc == -1        ? CLI_USAGE
                               : CLI_FAIL;
    const char *st = status == CLI_OK            ? "finished"
                     : status == RUN_INTERRUPTED ? "interrupted"
                                                 : "failed";
    if (status)
        cli_error(label, "%s", err);
    if (runlog_finish(rl, id, st, status ? err : NULL)) {
        cli_error(label, "could not record the run as %s: %s", st, runlog_errmsg(rl));
        status = status ? status : CLI_FAIL;
    }
    runlog_close(&rl);
    run_ctx_free(&x);
    config_free(&sc);
    model_close(&m);
    return status;
}
