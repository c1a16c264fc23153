/* corpus.h: a run's text: corpus files read, cut into documents by the configured
 * splitter, and divided into train and validation documents by a seeded shuffle. */
#ifndef PYRAMASK_CORPUS_H
#define PYRAMASK_CORPUS_H

#include <stddef.h>

#include "config.h"

/* The end-of-text byte (ASCII ETX) that data.eot appends to every document. The pyramid is
 * trained on the documents alone, so it learns no merge with this byte: at every level of the
 * pyramid it stays one token of its own, the byte's id. */
enum { CORPUS_EOT = 0x03 };

struct corpus {
    char *train, *valid; /* the split's documents concatenated, in corpus order */
    size_t train_len, valid_len;
    size_t *train_ends, *valid_ends; /* where each document of the split ends (ntrain_docs,
                                      * nvalid_docs offsets into train and valid) */
    size_t ndocs, ntrain_docs, nvalid_docs;
    size_t bytes_read; /* of all files, after data.max_bytes */
};

/* Reads data.corpus, splits it (data.split, data.header, data.max_bytes) and divides the
 * documents (data.valid_fraction, data.split_seed, 0 = train.seed). Returns 0, -1 for bad
 * input (err "file:line: key: why": a missing file, a bad header pattern, too few
 * documents) or -2 for other failures. */
int corpus_load(struct corpus *out, const struct config *c, char err[CONFIG_ERR_MAX]);
void corpus_free(struct corpus *c);

/* The split's documents each followed by CORPUS_EOT (data.eot): a malloc'd copy of
 * text (len bytes, ndocs documents ending at ends[]) of len + ndocs bytes and a NUL, its
 * length in *out_len; NULL when out of memory. */
char *corpus_pack_eot(const char *text, size_t len, const size_t *ends, size_t ndocs,
                      size_t *out_len);

/* The names of the splitters (data.split): the i-th, NULL past the last. */
const char *corpus_split_name(int i);

/* The documents of one buffer, as (start, length) pairs by the splitter `split`
 * (blank, header, lines, none; auto picks header when the first line matches `header`).
 * *docs is malloc'd (2 * *ndocs entries). Returns 0, or -1 with err for a bad pattern. */
int corpus_split(const char *text, size_t len, const char *split, const char *header,
                 size_t **docs, size_t *ndocs, char err[CONFIG_ERR_MAX]);

#endif
