/* samples.h: text from the denoiser: unconditional generation, infilling of a text whose
 * holes are written [MASK] (one token) or [MASK:n] (n tokens), and a run's samples file. */
#ifndef PYRAMASK_SAMPLES_H
#define PYRAMASK_SAMPLES_H

#include <stdio.h>

#include <gsl/gsl_rng.h>

#include "model.h"
#include "quality.h"
#include "run_prepare.h"
#include "runlog.h"
#include "tok.h"

/* Sampling strategies by name (pyramask sample --strategy, score.sample_strategy): the
 * i-th name (NULL past the last), and a name to model_strategy (0, or -1 if unknown). */
const char *samples_strategy_name(int i);
/* The names as "random, confidence, block" in out (n bytes); returns out. */
const char *samples_strategy_list(char *out, size_t n);
int samples_strategy_parse(const char *name, model_strategy *out);

struct sample_opts {
    int level;            /* the model level of the pyramid */
    int steps;            /* unmasking steps */
    const char *strategy; /* random, confidence, block, chain, chain-confidence */
    int block;            /* block length for the block strategy */
    /* the checkpoint's chain (NULL or n = 0: flat) and shape, for the chain strategies */
    const struct chain_spec *chain;
    double shape;
    /* the [sample] parameters (config.h; model.h's model_sample_settings) */
    double temperature, top_p, threshold, factor, eta, t_on, t_off, alpha_on;
    const char *remdm_schedule; /* cap, rescale, conf, loop */
    /* the end-of-text id (data.eot): a generated sample ends at its first one and only the
     * tokens before it are printed and measured; -1 (samples_opts_from_config's) none.
     * Infill never cuts. */
    int32_t eot;
};

/* o's sampler parameters from a config's [sample] section (o->block from sample.block
 * when it is set, else kept), and eot -1. */
void samples_opts_from_config(struct sample_opts *o, const struct config_values *v);

/* The chain strategies draw through the chain's levels with kernel tables for a step grid
 * uniform in F_1 = p^(a_1) (libmask's hop probability of the coarsest description): with
 * `chain` a position that moves two levels or more in one step draws the split among a
 * description's members untrained (see model.h); the grid keeps that share low (printed in the
 * header line). A chain strategy without a chain is an error (-1). */

/* Generates n sequences of the model's seq_len tokens from all-[MASK] and prints each
 * under a "--- generated i ---" line. Returns 0 or -1 with err. */
int samples_generate(model *m, const tok *t, const struct sample_opts *o, int n, gsl_rng *r,
                     FILE *out, char *err, size_t errlen);

/* Fills the holes of `text` (at most seq_len tokens in all) and prints the result.
 * Returns 0, -1 (err: bad input, e.g. too long) or -2. */
int samples_infill(model *m, const tok *t, const struct sample_opts *o, const char *text,
                   gsl_rng *r, FILE *out, char *err, size_t errlen);

/* Writes a trained run's samples artifact to path, whole or not at all (safe_file):
 * score.samples generated sequences, then as many infills of validation windows with their
 * middle half masked, each after the original with the hidden part in [[ ]]. The sampler
 * settings are the run's (score.sample_steps, score.sample_strategy, mask.block) and its
 * random numbers come from train.seed. Returns 0, or -2 with err. */
int samples_write_run(model *m, const struct run_ctx *x, const char *path, struct quality *q,
                      char *err, size_t errlen);

/* Infill of held-out spans (score.infill holes, each 1..score.infill_max tokens in the
 * middle half of a held-out window; the holes are drawn from score.seed, the same for every
 * run). With the length given (as many masks as hidden tokens) the run's sampler fills them,
 * and the span's code length is the chain rule left to right (each token's log-probability
 * given the context and the span's tokens before it, the rest masked): a bound in bits per
 * byte of the span's bytes. With the length hidden (a model with [expand]/[delete] only: one
 * mask, model_varlen_sample) the model chooses the length. Logged as scores of split infill:
 * infill_exact_given, infill_token_acc_given, infill_bpb_given and, with edit classes,
 * infill_exact_hidden and infill_length_right_hidden. Returns 0 or -1 with err. */
int samples_infill_scores(model *m, const struct run_ctx *x, struct runlog *rl, int64_t run_id,
                          char *err, size_t errlen);
/* n sequences (n, T) of a trained diffusion run's sampler from all masks (score.sample_strategy
 * and steps, the [sample] parameters; no end of text) into ids, and the model calls taken.
 * Returns 0, -1 (err: settings the sampler refuses) or -2. */
int samples_run_ids(model *m, const struct run_ctx *x, int32_t *ids, int n, gsl_rng *r,
                    long *calls, char *err, size_t errlen);
/* The code length in bits of win[a..a+L) given the rest of the window win (T tokens), by
 * the chain rule left to right: position a+i's log-probability with a..a+i-1 revealed and
 * a+i..a+L-1 masked (the first mask id). ids and lp are T-long scratch. Returns 0 or the
 * model's error code. */
int samples_span_bits(model *m, const int32_t *win, int T, int a, int L, int32_t *ids,
                      float *lp, double *bits);

/* The measures of a run's generated samples (q, from samples_write_run) into the run log's
 * scores table, split 'samples': sample_entropy, sample_distinct_1..3, sample_repetition,
 * sample_js2 (against the validation text), sample_nfe, sample_length and, with
 * sample.reference, sample_gen_bpb, each with n = the samples; the decoding speed as the
 * metric sample_tokens_per_s at `step` (a timing, so not a score: scores repeat to the
 * bit). The sampler's settings are the run's config (score.sample_*, [sample]). Returns 0
 * or -1 with err. */
int samples_log_quality(struct runlog *rl, int64_t run_id, long step, const struct quality *q,
                        char *err, size_t errlen);

#endif
