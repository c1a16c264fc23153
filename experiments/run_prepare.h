/* run_prepare.h: what a train or score run needs before the model: the corpus split, the
 * pyramid, both splits encoded, the run's corruption (libmask) with its priors. */
#ifndef PYRAMASK_RUN_PREPARE_H
#define PYRAMASK_RUN_PREPARE_H

#include <limits.h>

#include "chain.h"
#include "config.h"
#include "corpus.h"
#include "dataset.h"
#include "mask.h"
#include "oracle.h"
#include "tok.h"

struct run_ctx {
    const struct config *c;
    const struct config_values *v;
    struct corpus corpus;
    tok *tok;
    char pyramid_path[PATH_MAX];
    char pyramid_hash[17];
    struct dataset train, valid;
    int V;        /* model-level vocabulary */
    int K;        /* mask types of the run's corruption */
    int T;        /* model.seq_len */
    int nlevels;  /* coarser levels given to libmask */
    int prompt;   /* mask.prompt for the response structure, else 0 */
    mask *mask;   /* the run's corruption */
    float *prior; /* (K, V) log-priors of the run's mask types */
    /* the coarse-to-fine chain (mask.chain; spec.n = 0: flat) and the model's layout */
    struct chain_spec chain;
    struct chain_maps maps;
    int n_desc;                      /* descriptions, D */
    int32_t *layout_start, *members; /* model_set_layout's arrays */
    /* data.source = markov: the chain that drew both splits (identity tokenizer, no
     * pyramid: tok NULL), the law the oracle denoiser knows; NULL for a corpus */
    const struct oracle *oracle;
    struct oracle markov;
    char *markov_text[2]; /* the splits' bytes */
    /* data.eot: the splits' documents each followed by CORPUS_EOT (what train and valid
     * encode), and that byte's model-level id; -1 without data.eot */
    char *packed[2];
    int32_t eot_id;
};

/* Builds everything (for data.source = markov: the chain and its drawn splits instead of a
 * corpus and a pyramid); K_min > 0 forces at least that many mask types (a checkpoint's).
 * Returns 0, -1 for bad input or -2 for other failures, with err. */
int run_prepare(struct run_ctx *x, const struct config *c, const char *cache_dir, int K_min,
                char err[CONFIG_ERR_MAX]);
void run_ctx_free(struct run_ctx *x);

/* Opens a corruption handle for this run: its own (canonical = 0) or the canonical one
 * (canonical = 1: token structure, score.schedule, the run's mask-type policy), with
 * exactly K types, its corpus statistics fed. Returns 0 or -1 with err. */
int run_mask_open(mask **out, const struct run_ctx *x, int canonical, int K,
                  char err[CONFIG_ERR_MAX]);
/* The same with the schedule string `schedule` instead of the config's (NULL: as above). The
 * run's own corruption carries the chain. */
int run_mask_open_sched(mask **out, const struct run_ctx *x, int canonical, int K,
                        const char *schedule, char err[CONFIG_ERR_MAX]);
/* The chain's level sizes from the pyramid x->tok and mask.classes, then parsed (into
 * x->chain). Returns 0 or -1 with err. */
int run_chain_spec(struct run_ctx *x, char err[CONFIG_ERR_MAX]);

/* The libmask schedule (curriculum) string of the config. */
void run_schedule_spec(const struct config_values *v, char *out, size_t n);

#endif
