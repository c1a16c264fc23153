/* quality.h: measures of generated token sequences: unigram entropy, distinct-n, repetition
 * rate, and the Jensen-Shannon divergence of n-gram distributions against reference text. */
#ifndef PYRAMASK_QUALITY_H
#define PYRAMASK_QUALITY_H

#include <stddef.h>
#include <stdint.h>

/* Entropy in bits of the empirical unigram distribution of x[0..n) (0 when n < 1). */
double quality_entropy(const int32_t *x, size_t n);
/* distinct-k: distinct k-grams / k-grams in x[0..n) (k = 1..3, ids < 2^21); 0 when x has no
 * k-gram. */
double quality_distinct(const int32_t *x, size_t n, int k);
/* Repetition rate: the share of positions t >= 1 whose token occurs among the `window`
 * tokens before it (0 when n < 2). */
double quality_repetition(const int32_t *x, size_t n, int window);
/* Jensen-Shannon divergence in bits (0..1) between the empirical k-gram distributions of
 * a[0..na) and b[0..nb) (k = 1..3, ids < 2^21); -1 when either has no k-gram or on out of
 * memory. */
double quality_js(const int32_t *a, size_t na, const int32_t *b, size_t nb, int k);

/* The measures of a sample set: per-sample means, and the set's bigram JS divergence from
 * the reference. */
struct quality {
    int n;               /* samples */
    double length;       /* mean tokens per sample */
    double entropy;      /* mean unigram entropy, bits */
    double distinct[3];  /* mean distinct-1, -2, -3 */
    double repetition;   /* mean repetition rate, window 16 */
    double js2;          /* JS divergence (bits) of the bigrams of all samples vs ref */
    double model_calls;  /* model calls a sample took (NFE; a batch's call counts once for
                          * each of its samples), the mean over the set */
    double tokens_per_s; /* generated tokens per second of decoding */
    double gen_bpb;      /* bits per byte under sample.reference (NaN: none) */
};
/* Fills q from n samples of T tokens (x, n*T) and the reference ref[0..nref). */
void quality_measure(struct quality *q, const int32_t *x, int n, int T, const int32_t *ref,
                     size_t nref);
/* The same for samples cut at an end of text: sample b is its first lengths[b] tokens
 * (lengths NULL: all T), and one `eot` after it when it is shorter than T (the held-out text
 * holds an end of text after each document, so its bigrams with it compare). length is the
 * mean of lengths; entropy, distinct-n and repetition are over each sample's own tokens. -2
 * in js2 when out of memory. */
void quality_measure_cut(struct quality *q, const int32_t *x, int n, int T, const int *lengths,
                         int32_t eot, const int32_t *ref, size_t nref);

#endif
