/* run_train.c: one training run end to end: claim it in the run log, prepare data and
 * corruption, train the denoiser with AdamW, save the checkpoint, score, write samples. */
#include "cli.h"
#include "progress.h"
#include "pyramid_cache.h"
#include "run.h"
#include "run_oracle.h"
#include "samples.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HEARTBEAT_SECONDS = 10 };

volatile int run_stop_signal;
static void on_stop(int sig)
{
    run_stop_signal = sig;
}

void run_catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

void run_dirs(const char *db_path, char cache[4096], char runs[4096])
{
    const char *slash = strrchr(db_path, '/');
    int n = slash ? (int)(slash - db_path) : 1;
    const char *dir = slash ? db_path : ".";
    if (slash && n == 0)
        n = 1; /* "/x.db" */
    snprintf(cache, 4096, "%.*s/pyramask-cache", n, dir);
    snprintf(runs, 4096, "%.*s/pyramask-runs", n, dir);
}

/* The checkpoint's metadata: the run's config with the pyramid it was trained on. */
static char *checkpoint_meta(const struct config *c, const struct run_ctx *x)
{
    struct config *m = config_copy(c);
    char err[CONFIG_ERR_MAX], *abs = realpath(x->pyramid_path, NULL), *text = NULL;
    if (m && !config_set(m, "tokenizer", "pyramid", abs ? abs : x->pyramid_path, NULL, 0, err))
        text = config_text(m, 0);
    free(abs);
    config_free(&m);
    return text;
}

struct trainer {
    model *m;
    int32_t *inputs, *targets; /* (B, T) */
    uint8_t *masked;
    int8_t *level; /* (B, T) chain levels; NULL for a flat run */
    float *weights;
    mask_seq *seqs; /* (B) */
    mask_out *outs;
    struct window *wins;
    int B;
    double *times;  /* block: (B, T / block) each block's time */
    int32_t *clean; /* block: (B, T) the clean sequences */
    void *scratch;  /* block: score_block_corrupt's */
    /* model.edit: DreamOn's pairs built from the corruption (inputs, targets, weights) */
    int32_t *e_ids, *e_target;
    float *e_weight;
};

static void trainer_free(struct trainer *tr)
{
    for (int b = 0; tr->wins && b < tr->B; b++)
        window_free(&tr->wins[b]);
    free(tr->wins);
    free(tr->inputs);
    free(tr->targets);
    free(tr->masked);
    free(tr->level);
    free(tr->weights);
    free(tr->seqs);
    free(tr->outs);
    free(tr->times);
    free(tr->clean);
    free(tr->scratch);
    free(tr->e_ids);
    free(tr->e_target);
    free(tr->e_weight);
    model_close(&tr->m);
}

/* Block diffusion's batch: B * T / block times from the run's sampler and its schedule at
 * `step`, then each block corrupted at its own (score_block_corrupt); the weights are each
 * block's ELBO weights. Returns mask_corrupt's code. */
static int block_corrupt_batch(struct trainer *tr, const struct run_ctx *x, long step,
                               gsl_rng *r)
{
    const int T = x->T, Bk = (int)x->v->model.block, nblk = T / Bk;
    mask_time_sampler how;
    if (mask_time_sampler_parse(x->v->mask.time, &how, NULL, 0))
        how = MASK_TIME_STRATIFIED;
    mask_set_step(x->mask, step);
    mask_sample_times(tr->times, tr->B * nblk, mask_get_schedule(x->mask), how, r);
    for (int b = 0; b < tr->B; b++) {
        memcpy(tr->clean + (size_t)b * T, tr->seqs[b].ids, (size_t)T * sizeof *tr->clean);
        int rc = score_block_corrupt(x->mask, &tr->seqs[b], Bk, tr->times + (size_t)b * nblk, r,
                                     &tr->outs[b], tr->scratch);
        if (rc)
            return rc;
    }
    return 0;
}

/* model.edit: each corrupted window of the batch made into DreamOn's training pair
 * (mask_dreamon_augment: masked runs merged into [expand], [delete]s inserted, padded with
 * the end of text) in tr->e_*. Returns 0 or -1 with err. */
static int edit_pairs(struct trainer *tr, const struct run_ctx *x, gsl_rng *r,
                      char err[CONFIG_ERR_MAX])
{
    const int T = x->T;
    mask_dreamon_settings ds;
    mask_dreamon_default_settings(&ds);
    ds.vocab = x->V;
    ds.expand_id = x->V + x->K;
    ds.delete_id = x->V + x->K + 1;
    ds.pad_id = x->eot_id;
    ds.merge_scale = x->v->train.edit_merge;
    ds.delete_prob = x->v->train.edit_delete;
    for (int b = 0; b < tr->B; b++) {
        size_t o = (size_t)b * T;
        mask_dreamon_out out = {
            tr->e_ids + o, tr->e_target + o, tr->e_weight + o, NULL, NULL, 0, 0, 0, 0};
        char why[256];
        if (mask_dreamon_augment(&ds, tr->seqs[b].ids, tr->outs[b].ids, tr->outs[b].masked,
                                 tr->outs[b].weight, T, T, r, &out, why, sizeof why))
            return snprintf(err, CONFIG_ERR_MAX, "DreamOn pair: %s", why), -1;
    }
    return 0;
}

/* The training loop. Returns 0, 1 when stopped by a signal, -1 with err on failure. */
static int train_loop(struct trainer *tr, const struct run_ctx *x, struct runlog *rl,
                      int64_t id, int quiet, struct run_evaluator *curve,
                      char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    const int B = tr->B, T = x->T, mode = v->model.mode_id;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return snprintf(err, CONFIG_ERR_MAX, "out of memory"), -1;
    gsl_rng_set(r, (unsigned long)v->train.seed * 2654435761u + 1u);
    model_optim opt;
    model_default_optim(&opt);
    opt.lr = (float)v->train.lr;
    opt.min_lr = (float)v->train.lr / 10;
    opt.beta1 = (float)v->train.beta1;
    opt.beta2 = (float)v->train.beta2;
    opt.weight_decay = (float)v->train.weight_decay;
    opt.grad_clip = (float)v->train.grad_clip;
    /* a run shorter than its warm-up warms up over all of it */
    opt.warmup_steps = v->train.warmup < v->train.steps ? v->train.warmup : v->train.steps;
    opt.total_steps = v->train.steps;
    struct progress pr;
    progress_start(&pr, "train", "step", v->train.steps);
    pr.unit_tokens = (double)B * T;
    if (quiet)
        pr.tty = 0;
    double t0 = progress_now(), beat = t0, since = t0, loss_sum = 0;
    long loss_n = 0;
    int rc = 0;
    size_t span = x->train.n - (size_t)T;
    for (long step = 0; step < v->train.steps && !rc; step++) {
        if (run_stop_signal) {
            rc = 1;
            break;
        }
        for (int b = 0; b < B; b++) {
            /* the markov source's windows are independent draws: one of them, never a
             * window across two */
            size_t start = x->oracle ? (size_t)gsl_rng_uniform_int(r, x->train.n / T) * T
                                     : (size_t)gsl_rng_uniform_int(r, span + 1);
            dataset_window(&x->train, start, &tr->wins[b], &tr->seqs[b]);
            memcpy(tr->targets + (size_t)b * T, tr->seqs[b].ids, (size_t)T * sizeof(int32_t));
        }
        int mrc = 0;
        if (mode == MODEL_AR) /* row i predicts token i + 1: weights 1, 0 on the last row */
            for (int b = 0; b < B; b++)
                for (int i = 0; i < T; i++) {
                    size_t p = (size_t)b * T + (size_t)i;
                    tr->inputs[p] = tr->seqs[b].ids[i];
                    tr->targets[p] = i + 1 < T ? tr->seqs[b].ids[i + 1] : 0;
                    tr->weights[p] = i + 1 < T;
                }
        else if (mode == MODEL_BLOCK) /* each block at its own time, the run's sampler */
            mrc = block_corrupt_batch(tr, x, step, r);
        else
            mrc = mask_corrupt_batch(x->mask, tr->seqs, B, step, r, tr->outs);
        if (mrc) {
            snprintf(err, CONFIG_ERR_MAX, "step %ld: corruption: %s", step,
                     mask_errmsg(x->mask));
            rc = -1;
            break;
        }
        if (tr->e_ids && edit_pairs(tr, x, r, err)) {
            rc = -1;
            break;
        }
        float loss, gnorm = 0;
        int e = model_zero_grad(tr->m);
        if (!e && mode == MODEL_BLOCK)
            e = model_forward_block(tr->m, tr->inputs, tr->clean, tr->targets, tr->weights, B,
                                    T, &loss, NULL);
        else if (!e && tr->e_ids)
            e = model_forward(tr->m, tr->e_ids, tr->e_target, tr->e_weight, B, T, &loss, NULL);
        else if (!e)
            e = model_forward(tr->m, tr->inputs, tr->targets, tr->weights, B, T, &loss, NULL);
        if (!e)
            e = model_backward(tr->m);
        if (!e)
            e = model_update(tr->m, &opt, &gnorm);
        if (e) { /* libmodel's messages about non-finite values name the step */
            if (e == MODEL_ENONFINITE)
                snprintf(err, CONFIG_ERR_MAX, "%s", model_errmsg(tr->m));
            else
                snprintf(err, CONFIG_ERR_MAX, "step %ld: %s", step, model_errmsg(tr->m));
            rc = -1;
            break;
        }
        loss_sum += loss;
        loss_n++;
        double now = progress_now();
        if ((step + 1) % v->train.log_every == 0 || step + 1 == v->train.steps) {
            double tps = (double)loss_n * B * T / (now - since > 1e-9 ? now - since : 1e-9);
            /* loss per position in nats = the NELBO estimate per token */
            if (runlog_metric(rl, id, step + 1, "train_loss", loss_sum / (double)loss_n) ||
                runlog_metric(rl, id, step + 1, "lr", model_lr(&opt, step)) ||
                runlog_metric(rl, id, step + 1, "grad_norm", gnorm) ||
                runlog_metric(rl, id, step + 1, "tokens_per_s", tps)) {
                snprintf(err, CONFIG_ERR_MAX, "%s", runlog_errmsg(rl));
                rc = -1;
                break;
            }
            loss_sum = 0;
            loss_n = 0;
            since = now;
        }
        long every = v->train.steps ? v->score.curve_every : 0;
        if (curve && every && ((step + 1) % every == 0 || step + 1 == v->train.steps) &&
            run_curve_evaluate(rl, id, curve, tr->m, x, step + 1, err)) {
            rc = -1;
            break;
        }
        if (now - beat > HEARTBEAT_SECONDS) {
            runlog_heartbeat(rl, id);
            beat = now;
        }
        char note[64];
        snprintf(note, sizeof note, "loss %.3f", (double)loss);
        progress_update(&pr, step + 1, note);
    }
    progress_end(&pr);
    if (!rc)
        runlog_metric(rl, id, v->train.steps, "train_seconds", progress_now() - t0);
    gsl_rng_free(r);
    return rc;
}

static int trainer_open(struct trainer *tr, const struct run_ctx *x, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = x->v;
    const int B = (int)v->train.batch, T = x->T;
    memset(tr, 0, sizeof *tr);
    tr->B = B;
    size_t BT = (size_t)B * (size_t)T;
    tr->inputs = malloc(BT * sizeof *tr->inputs);
    tr->targets = malloc(BT * sizeof *tr->targets);
    tr->masked = malloc(BT);
    tr->weights = malloc(BT * sizeof *tr->weights);
    tr->seqs = calloc((size_t)B, sizeof *tr->seqs);
    tr->outs = calloc((size_t)B, sizeof *tr->outs);
    tr->wins = calloc((size_t)B, sizeof *tr->wins);
    if (x->n_desc)
        tr->level = malloc(BT);
    if (v->model.mode_id == MODEL_BLOCK) {
        tr->times = malloc((size_t)B * (size_t)(T / v->model.block) * sizeof *tr->times);
        tr->clean = malloc(BT * sizeof *tr->clean);
        tr->scratch = malloc((size_t)T * 9 + 16);
        if (!tr->times || !tr->clean || !tr->scratch)
            return snprintf(err, CONFIG_ERR_MAX, "out of memory"), -1;
    }
    if (v->model.edit) {
        tr->e_ids = malloc(BT * sizeof *tr->e_ids);
        tr->e_target = malloc(BT * sizeof *tr->e_target);
        tr->e_weight = malloc(BT * sizeof *tr->e_weight);
        if (!tr->e_ids || !tr->e_target || !tr->e_weight)
            return snprintf(err, CONFIG_ERR_MAX, "out of memory"), -1;
    }
    if (!tr->inputs || !tr->targets || !tr->masked || !tr->weights || !tr->seqs || !tr->outs ||
        !tr->wins || (x->n_desc && !tr->level))
        return snprintf(err, CONFIG_ERR_MAX, "out of memory"), -1;
    for (int b = 0; b < B; b++) {
        if (window_alloc(&tr->wins[b], T, x->nlevels, x->prompt))
            return snprintf(err, CONFIG_ERR_MAX, "out of memory"), -1;
        tr->outs[b] = (mask_out){tr->inputs + (size_t)b * T,
                                 tr->masked + (size_t)b * T,
                                 tr->weights + (size_t)b * T,
                                 NULL,
                                 0,
                                 NULL,
                                 NULL};
        if (tr->level) { /* a chain's loss target: the state one level finer */
            tr->outs[b].target = tr->targets + (size_t)b * T;
            tr->outs[b].level = tr->level + (size_t)b * T;
        }
    }
    model_settings ms;
    model_default_settings(&ms);
    ms.config.vocab = x->V;
    ms.config.n_mask = x->K;
    ms.config.d = (int)v->model.d;
    ms.config.layers = (int)v->model.layers;
    ms.config.heads = (int)v->model.heads;
    ms.config.seq_len = T;
    ms.config.mode = v->model.mode_id;
    ms.config.block = v->model.mode_id == MODEL_BLOCK ? (int)v->model.block : 0;
    ms.config.n_desc = x->n_desc;
    ms.config.n_edit = v->model.edit ? 2 : 0;
    ms.threads = (int)v->train.threads;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return snprintf(err, CONFIG_ERR_MAX, "out of memory"), -1;
    gsl_rng_set(r, (unsigned long)v->train.seed);
    int rc = model_open(&tr->m, &ms, r);
    gsl_rng_free(r);
    if (rc)
        return snprintf(err, CONFIG_ERR_MAX, "model: %s", model_errmsg(tr->m)), -1;
    if (x->n_desc && (rc = model_set_layout(tr->m, x->layout_start, x->members)))
        return snprintf(err, CONFIG_ERR_MAX, "model layout: %s", model_errmsg(tr->m)), -1;
    if (v->model.prior_bias && (rc = model_set_prior(tr->m, x->prior)))
        return snprintf(err, CONFIG_ERR_MAX, "model prior: %s", model_errmsg(tr->m)), -1;
    return 0;
}

/* Ends a run: logs its status and error, prints the error. Returns the exit status. */
static int end_run(struct runlog *rl, int64_t id, const char *label, int status,
                   const char *error)
{
    const char *st = status == CLI_OK            ? "finished"
                     : status == RUN_INTERRUPTED ? "interrupted"
                                                 : "failed";
    if (error)
        cli_error(label, "%s", error);
    if (runlog_finish(rl, id, st, error)) {
        cli_error(label, "could not record the run as %s: %s", st, runlog_errmsg(rl));
        if (status == CLI_OK)
            status = CLI_FAIL;
    }
    runlog_close(&rl);
    return status;
}

int run_train(const struct config *c, const struct run_opts *o)
{
    const char *label = o->label ? o->label : "train";
    struct runlog *rl;
    char err[CONFIG_ERR_MAX];
    if (runlog_open(&rl, o->db_path, 1, err)) {
        cli_error(label, "%s: %s", o->db_path, err);
        return CLI_USAGE;
    }
    int64_t id;
    char uid[33];
    int rc = runlog_claim(rl, o->sweep_id, "train", c, &id, uid);
    if (rc < 0) {
        cli_error(label, "%s: %s", o->db_path, runlog_errmsg(rl));
        runlog_close(&rl);
        return CLI_FAIL;
    }
    if (rc != RUNLOG_CLAIMED) {
        runlog_close(&rl);
        return RUN_SKIPPED;
    }
    run_catch_signals();
    char cache[4096], runs[4096], dir[4200], path[4300];
    run_dirs(o->db_path, cache, runs);
    snprintf(dir, sizeof dir, "%s/%s", runs, uid);
    struct run_ctx x;
    double t_prep = progress_now();
    rc = run_prepare(&x, c, cache, 0, err);
    t_prep = progress_now() - t_prep;
    if (rc) {
        run_ctx_free(&x);
        return end_run(rl, id, label, rc == -1 ? CLI_USAGE : CLI_FAIL, err);
    }
    if (x.v->model.mode_id == MODEL_BLOCK && mask_reveals(x.mask)) {
        /* a partition or rates coded over whole windows: no block's NELBO pays for them */
        int k =
            config_key_index(mask_reveals(x.mask) & MASK_REVEALS_RATES ? "mask.importance_mode"
                                                                       : "mask.structure");
        snprintf(err, sizeof err,
                 "%s: %s: '%s' reveals what per-block corruption cannot code (its partition or "
                 "rates span whole windows): not with model.mode = block",
                 config_where(c, k), config_key_name(k), config_value(c, k));
        run_ctx_free(&x);
        return end_run(rl, id, label, CLI_USAGE, err);
    }
    int status = CLI_OK;
    const char *why = NULL;
    struct trainer tr;
    int markov = x.oracle != NULL;
    if (markov && !strcmp(x.v->model.kind, "oracle")) { /* nothing to train */
        if (runlog_metric(rl, id, 0, "prepare_seconds", t_prep) ||
            runlog_metric(rl, id, 0, "train_tokens", (double)x.train.n) ||
            runlog_metric(rl, id, 0, "valid_tokens", (double)x.valid.n) ||
            runlog_metric(rl, id, 0, "vocab", x.V) ||
            runlog_metric(rl, id, 0, "mask_types", x.K) ||
            runlog_metric(rl, id, 0, "params", 0)) {
            snprintf(err, sizeof err, "%s", runlog_errmsg(rl));
            status = CLI_FAIL;
        } else if (run_oracle_evaluate(rl, id, &x, err) ||
                   (x.v->score.samples > 0 && run_oracle_samples(rl, id, &x, err))) {
            status = run_stop_signal ? RUN_INTERRUPTED : CLI_FAIL;
        }
    } else if ((!markov && /* the markov source has no pyramid */
                (runlog_pyramid(rl, x.pyramid_hash, x.pyramid_path, x.v->data.corpus,
                                config_value(c, config_key_index("tokenizer.levels")),
                                x.v->tokenizer.superword, x.v->tokenizer.pretok) ||
                 runlog_artifact(rl, id, "pyramid", x.pyramid_path))) ||
               runlog_metric(rl, id, 0, "prepare_seconds", t_prep) ||
               runlog_metric(rl, id, 0, "train_tokens", (double)x.train.n) ||
               runlog_metric(rl, id, 0, "valid_tokens", (double)x.valid.n) ||
               runlog_metric(rl, id, 0, "vocab", x.V) ||
               runlog_metric(rl, id, 0, "mask_types", x.K)) {
        snprintf(err, sizeof err, "%s", runlog_errmsg(rl));
        status = CLI_FAIL;
    } else if (!markov && run_describe(rl, id, &x, err)) {
        status = CLI_FAIL;
    } else if (trainer_open(&tr, &x, err)) {
        status = CLI_FAIL;
        trainer_free(&tr);
    } else {
        runlog_metric(rl, id, 0, "params", (double)model_num_params(tr.m));
        struct run_evaluator curve;
        int curves = x.v->score.curve_every > 0;
        rc = curves && run_evaluator_open(&curve, &x, err) ? -1 : 0;
        if (!rc)
            rc = train_loop(&tr, &x, rl, id, o->quiet, curves ? &curve : NULL, err);
        if (curves)
            run_evaluator_close(&curve);
        if (rc == 1) {
            status = RUN_INTERRUPTED;
            snprintf(err, sizeof err, "interrupted by signal %d at a training step",
                     run_stop_signal);
        } else if (rc) {
            status = CLI_FAIL;
        }
        char *meta = status ? NULL : checkpoint_meta(c, &x);
        if (!status && pyramid_mkdirs(dir)) {
            snprintf(err, sizeof err, "%s: %s", dir, strerror(errno));
            status = CLI_FAIL;
        }
        if (!status) {
            snprintf(path, sizeof path, "%s/model.ckpt", dir);
            double t_save = progress_now();
            int e = meta ? model_save(tr.m, path, meta, 0) : MODEL_ENOMEM;
            t_save = progress_now() - t_save;
            if (e) {
                snprintf(err, sizeof err, "saving the checkpoint %s: %s", path,
                         model_errmsg(tr.m));
                status = CLI_FAIL;
            } else if (runlog_artifact(rl, id, "checkpoint", path) ||
                       runlog_metric(rl, id, x.v->train.steps, "checkpoint_seconds", t_save)) {
                snprintf(err, sizeof err, "%s", runlog_errmsg(rl));
                status = CLI_FAIL;
            }
        }
        free(meta);
        if (!status && run_stop_signal) {
            status = RUN_INTERRUPTED;
            snprintf(err, sizeof err, "interrupted by signal %d", run_stop_signal);
        }
        double t_score = progress_now();
        if (!status && run_evaluate(rl, id, tr.m, &x, x.v->train.steps, err))
            status = run_stop_signal ? RUN_INTERRUPTED : CLI_FAIL;
        if (!status && runlog_metric(rl, id, x.v->train.steps, "score_seconds",
                                     progress_now() - t_score)) {
            snprintf(err, sizeof err, "%s", runlog_errmsg(rl));
            status = CLI_FAIL;
        }
        if (!status && markov && run_oracle_exact_nll(rl, id, &x, err))
            status = CLI_FAIL;
        if (!status && markov && x.v->score.samples > 0 &&
            run_oracle_model_samples(rl, id, tr.m, &x, err))
            status = CLI_FAIL;
        if (!status && !markov && x.v->score.samples > 0) {
            snprintf(path, sizeof path, "%s/samples.txt", dir);
            struct quality q;
            if (samples_write_run(tr.m, &x, path, &q, err, sizeof err))
                status = CLI_FAIL;
            else if (runlog_artifact(rl, id, "samples", path) ||
                     samples_log_quality(rl, id, x.v->train.steps, &q, err, sizeof err)) {
                snprintf(err, sizeof err, "%s", runlog_errmsg(rl));
                status = CLI_FAIL;
            }
        }
        if (!status && samples_infill_scores(tr.m, &x, rl, id, err, sizeof err))
            status = CLI_FAIL;
        trainer_free(&tr);
    }
    if (status)
        why = err;
    run_ctx_free(&x);
    return end_run(rl, id, label, status, why);
}
