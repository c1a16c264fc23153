/* test.h: the small harness shared by libmodel's test files: checks that print what was
 * expected and what came, and helpers to build tiny models. */
#ifndef PYRAMASK_TEST_MODEL_H
#define PYRAMASK_TEST_MODEL_H

#include "../check.h"
#include <stdint.h>
#include <stdio.h>

#include <gsl/gsl_rng.h>

#include "model.h"

/* rc must be want; prints both codes and the handle's message */
#define CHECK_RC(m, rc, want)                                                                \
    CHECK((rc) == (want), "expected %d (%s), got %d (%s): %s", (want), model_strerror(want), \
          (rc), model_strerror(rc), model_errmsg(m))

/* A model of the given shape and mode (MODEL_DIFFUSION, MODEL_AR: 0, 1) with parameters
 * drawn at seed; aborts the test on failure. */
model *test_model(int V, int K, int d, int L, int H, int T, int mode, int threads,
                  unsigned long seed);
/* The same for any config (edit classes, blocks...). */
model *test_model_config(model_config c, int threads, unsigned long seed);
/* Replaces every parameter by N(0, sd) (larger weights make gradient checks sensitive). */
void test_scale_params(model *m, double sd, unsigned long seed);
/* A gsl_rng (mt19937) at seed: free with gsl_rng_free. */
gsl_rng *test_rng(unsigned long seed);
/* The CRC-32 of a checkpoint's payload (as libmodel writes it), to forge files. */
uint32_t test_crc32(const unsigned char *p, size_t n);
/* A whole file, malloc'd, its length in *len; NULL if it cannot be read. */
unsigned char *test_slurp(const char *path, size_t *len);
/* Writes len bytes of buf to path (with the payload's CRC recomputed when fix_crc, so that a
 * forged field is what the loader meets) and loads the file: the code, the message in msg. */
int test_load_bytes(const char *path, unsigned char *buf, size_t len, int fix_crc, char *msg,
                    size_t n);

/* A two-stage chain over V tokens (V <= CHAIN_MAXV): stage 1 = v / 3, stage 2 = stage 1 / 3,
 * as input ids after the K mask ids, with its membership layout and the arrays of a
 * model_chain (kernel left NULL). */
enum { CHAIN_MAXV = 64 };
typedef struct chain_fixture {
    int V, K, D1, D2, D; /* D = D1 + D2 */
    int32_t start[CHAIN_MAXV + 1], members[2 * CHAIN_MAXV];
    int32_t d1[CHAIN_MAXV], d2[CHAIN_MAXV]; /* token -> stage-1, stage-2 description id */
    int32_t stage_first[3];
    const int32_t *describe[2];
    model_chain chain;
} chain_fixture;
void chain_fixture_init(chain_fixture *f, int V, int K);
/* The level of input id `id`: 0 token, 1, 2 descriptions, 3 mask. */
int chain_fixture_level(const chain_fixture *f, int32_t id);
/* 1 when token x is the state id or one of its members (a mask id holds every token). */
int chain_fixture_holds(const chain_fixture *f, int32_t id, int32_t x);
/* A model of the fixture's shape (n_desc = D, its layout set), parameters drawn at seed. */
model *chain_model(const chain_fixture *f, int d, int L, int H, int T, int threads,
                   unsigned long seed);
/* The reverse-step level kernel (m+2) x (m+2) of the chain's forward process, from masking
 * probability p_t back to p_s <= p_t: F_l = p^(gamma^(m+1-l)), as libmask's. */
void chain_kernel(int mm, double gamma, double p_s, double p_t, double *kernel);

/* test files */
void test_grad_ops(void);
void test_grad_model(void);
void test_grad_block(void);
void test_block_modes(void);
void test_block_checkpoint(void);
void test_block_errors(void);
void test_cache(void);
void test_cache_sampler(void);
void test_sampler_strategies(void);
void test_fastmath(void);
void test_gemm_head(void);
void test_classifier_panels(void);
void test_subs(void);
void test_causal(void);
void test_prior(void);
void test_adamw(void);
void test_lr(void);
void test_checkpoint(void);
void test_determinism(void);
void test_isa(void);
void test_sampler(void);
void test_errors(void);
void test_blas(void);
void test_train(void);
void test_layout(void);
void test_errmsg(void);
void test_strategy_names(void);
void test_atomic_file(void);
void test_defaults(void);
void test_positions(void);
void test_chain_outputs(void);
void test_chain_flat(void);
void test_chain_errors(void);
void test_chain_checkpoint(void);
void test_chain_sampler(void);
void test_chain_confidence(void);
void test_chain_trained(void);
void test_score_argmax(void);
void test_score_rows(void);
void test_eot(void);
void test_varlen_sampler(void);
void test_edit_outputs(void);
void test_edit_errors(void);
void test_edit_adapter(void);
void test_edit_checkpoint(void);
void test_grad_edit(void);
int test_torch(void); /* 77: skipped */
int test_text(void);  /* 77: skipped */
void test_sample_quality(void);

#endif
