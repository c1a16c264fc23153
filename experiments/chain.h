/* chain.h: a run's coarse-to-fine chain (mask.chain): the grammar of its maps, checked
 * against the pyramid's levels, the maps built from libtok and libmask, the model's layout. */
#ifndef PYRAMASK_CHAIN_H
#define PYRAMASK_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mask.h"
#include "model.h"
#include "tok.h"

/* mask.chain: a comma-separated list of maps from fine to coarse, each applied to the
 * previous stage's alphabet (the model level's tokens for the first):
 *   prefix:N   a token's first piece at pyramid level N, below the alphabet's level; the
 *              alphabet must be tokens or prefix pieces (byte strings of a level)
 *   class      the class of a byte string (mask.classes); the alphabet must be tokens or
 *              prefix pieces
 *   cluster:C  C clusters of the alphabet (k-means on co-occurrence statistics of the
 *              training split written in the alphabet, seed mask.cluster_seed); any alphabet,
 *              C at most its size
 * So after a class or a cluster (descriptions without bytes) only cluster:C can follow.
 * Empty or `none`: no chain (flat masking). */
enum chain_kind { CHAIN_PREFIX, CHAIN_CLASS, CHAIN_CLUSTER };

enum { CHAIN_ALPHA_TOKENS, CHAIN_ALPHA_CLASSES, CHAIN_ALPHA_CLUSTERS };

struct chain_spec {
    int n; /* stages, 0 = flat */
    struct chain_stage {
        enum chain_kind kind;
        int arg;      /* N of prefix:N, C of cluster:C */
        int alphabet; /* what the stage's descriptions are: CHAIN_ALPHA_* */
        int level;    /* CHAIN_ALPHA_TOKENS: the pyramid level of its byte strings */
        int size;     /* D: its number of descriptions */
    } stage[MASK_MAX_CHAIN];
};

/* Whether a mask.chain value is flat: empty or "none". */
int chain_flat(const char *text);

/* Parses and checks a chain for a model at `model_level` of a pyramid whose level l has
 * level_size[l] tokens (l = 0..top), with n_classes classes (1 + rules). Returns 0, or -1 with
 * the reason in why (no file:line: the caller adds the key's place). */
int chain_parse(const char *text, int model_level, const int *level_size, int top,
                int n_classes, struct chain_spec *out, char *why, size_t n);

/* The maps of a chain: map[l] from stage l's alphabet (the model level's V tokens for l = 0)
 * to stage l+1's descriptions. */
struct chain_maps {
    int n;
    int32_t *map[MASK_MAX_CHAIN];
    int size[MASK_MAX_CHAIN];
};

/* Builds the maps: prefix maps from the pyramid, class maps with classifier's class rules
 * (mask_classify), cluster maps from the training text (train_ids: its model-level ids,
 * train_text: its bytes, to encode at a prefix's level). Returns 0 or -1 with err. */
int chain_build(struct chain_maps *cm, const struct chain_spec *s, const tok *t,
                int model_level, mask *classifier, const int32_t *train_ids, size_t n_train,
                const char *train_text, size_t train_len, unsigned long cluster_seed, char *err,
                size_t errlen);
void chain_maps_free(struct chain_maps *cm);

/* The model's membership layout of mask handle m's chain: description e (input id V+K+e)
 * has the tokens whose stage-l description it is. *start (D+1) and *members (m stages x V)
 * are malloc'd (free both); *n_desc = D. Returns 0 or -1 (out of memory). */
int chain_layout(const mask *m, int32_t **start, int32_t **members, int *n_desc);

/* A chain for libmodel's chain samplers, rebuilt from a model's layout (so a checkpoint
 * samples without its corpus): stage l's descriptions are the layout's next spec->stage[l].size
 * descriptions, describe[l][v] the input id of token v's stage-(l+1) description, and the
 * kernels of a step grid uniform in F_1 = p^(a_1) from libmask (a handle opened with maps
 * derived from the layout and mask.chain_shape). jump: the expected share of positions that
 * move two levels or more in one step (drawn from an untrained split, see model.h). */
struct chain_sampler {
    int n;
    int32_t stage_first[MASK_MAX_CHAIN + 1];
    int32_t *describe[MASK_MAX_CHAIN];
    double *kernel; /* (steps, n+2, n+2) */
    double jump;
    model_chain chain; /* points into the above */
};

/* Returns 0, -1 for a model that does not fit the spec (err) or -2 (out of memory). */
int chain_sampler_open(struct chain_sampler *cs, const model *m, const struct chain_spec *spec,
                       double shape, int steps, char *err, size_t errlen);
void chain_sampler_free(struct chain_sampler *cs);

#endif
