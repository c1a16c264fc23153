/* run_oracle.h: runs with model.kind = oracle: the exact denoiser of data.source = markov
 * scored through the harness's own scoring path, and its samplers' exact errors. */
#ifndef PYRAMASK_RUN_ORACLE_H
#define PYRAMASK_RUN_ORACLE_H

#include "run.h"

/* run_evaluate's scores with the oracle as the denoiser (nelbo_bpb, nelbo_bpb_sched,
 * masked_acc, ...), and exact_nll_bpb: the exact NLL of the same held-out windows under the
 * chain (split valid; equal to nelbo_bpb up to its standard error, the bound being tight).
 * Returns 0 or -1 with err. */
int run_oracle_evaluate(struct runlog *rl, int64_t id, const struct run_ctx *x,
                        char err[CONFIG_ERR_MAX]);

/* exact_nll_bpb alone (split valid): the chain's exact NLL of the held-out windows the
 * canonical score reads, in bits per symbol. Returns 0 or -1 with err. */
int run_oracle_exact_nll(struct runlog *rl, int64_t id, const struct run_ctx *x,
                         char err[CONFIG_ERR_MAX]);

/* A transformer trained on the markov source: score.samples sequences of its sampler
 * (samples_run_ids, random numbers from train.seed), logged as run_oracle_samples logs the
 * oracle's: the quality scores and the exact errors under the chain. Returns 0 or -1 with
 * err. */
int run_oracle_model_samples(struct runlog *rl, int64_t id, model *m, const struct run_ctx *x,
                             char err[CONFIG_ERR_MAX]);

/* score.samples sequences of model.seq_len symbols drawn with the oracle as the denoiser by
 * score.sample_strategy (random: the ancestral sampler; confidence, margin, entropy,
 * threshold: oracle_sample_ranked) in score.sample_steps steps, random numbers from
 * train.seed; logged as samples_log_quality's scores of split 'samples' (against the
 * held-out symbols) and the exact errors: sample_kl_bigram, KL (nats) of the samples' bigram
 * frequencies from the chain's expected bigram statistics, and sample_true_nll_bpb, the
 * samples' mean exact NLL under the chain in bits per symbol (= per byte). Returns 0 or -1
 * with err. */
int run_oracle_samples(struct runlog *rl, int64_t id, const struct run_ctx *x,
                       char err[CONFIG_ERR_MAX]);

#endif
