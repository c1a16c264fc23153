/* corpus.c: reading corpus files, cutting them into documents (blank lines, header
 * lines matched by PCRE2, lines, whole files) and the seeded train/validation split. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "corpus.h"
#include "cli.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const split_names[] = {"auto", "blank", "header", "lines", "none"};

const char *corpus_split_name(int i)
{
    return i >= 0 && i < (int)(sizeof split_names / sizeof split_names[0]) ? split_names[i]
                                                                           : NULL;
}

static int is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

struct spans {
    size_t *v;
    size_t n, cap;
};

static int push(struct spans *s, size_t start, size_t len)
{
    if (s->n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        size_t *v = realloc(s->v, cap * 2 * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[2 * s->n] = start;
    s->v[2 * s->n + 1] = len;
    s->n++;
    return 0;
}

int corpus_split(const char *text, size_t len, const char *split, const char *header,
                 size_t **docs, size_t *ndocs, char err[CONFIG_ERR_MAX])
{
    struct spans s = {0};
    pcre2_code *re = NULL;
    pcre2_match_data *md = NULL;
    *docs = NULL;
    *ndocs = 0;
    if (!strcmp(split, "header") || !strcmp(split, "auto")) {
        int ec;
        PCRE2_SIZE off;
        re = pcre2_compile((PCRE2_SPTR)header, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return config_fail(err, "data.header: %s at offset %zu", (char *)msg, (size_t)off);
        }
        md = pcre2_match_data_create_from_pattern(re, NULL);
    }
    /* line k is text[b, e) without its newline */
    size_t first_end =
        memchr(text, '\n', len) ? (size_t)((const char *)memchr(text, '\n', len) - text) : len;
    int header_mode = !strcmp(split, "header");
    if (!strcmp(split, "auto"))
        header_mode =
            len > 0 && pcre2_match(re, (PCRE2_SPTR)text, first_end, 0, 0, md, NULL) >= 0;
    int rc = 0;
    if (!strcmp(split, "none")) {
        if (len)
            rc = push(&s, 0, len);
    } else {
        size_t doc_start = 0;
        int in_text = 0; /* blank mode: the current document has a non-blank line */
        for (size_t b = 0; b < len && !rc;) {
            const char *nl = memchr(text + b, '\n', len - b);
            size_t e = nl ? (size_t)(nl - text) : len, next = nl ? e + 1 : len;
            if (!strcmp(split, "lines")) {
                rc = push(&s, b, next - b);
            } else if (header_mode) {
                if (b > doc_start &&
                    pcre2_match(re, (PCRE2_SPTR)(text + b), e - b, 0, 0, md, NULL) >= 0) {
                    rc = push(&s, doc_start, b - doc_start);
                    doc_start = b;
                }
            } else { /* blank: a non-blank line after blank ones starts a document */
                int blank = is_blank(text + b, e - b);
                if (!blank && in_text == 2) {
                    rc = push(&s, doc_start, b - doc_start);
                    doc_start = b;
                    in_text = 1;
                } else if (!blank) {
                    in_text = 1;
                } else if (in_text) {
                    in_text = 2;
                }
            }
            b = next;
        }
        if (!rc && strcmp(split, "lines") && doc_start < len)
            rc = push(&s, doc_start, len - doc_start);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (rc) {
        free(s.v);
        return config_fail(err, "out of memory");
    }
    *docs = s.v;
    *ndocs = s.n;
    return 0;
}

int corpus_load(struct corpus *out, const struct config *c, char err[CONFIG_ERR_MAX])
{
    const struct config_values *v = config_values(c);
    int kc = config_key_index("data.corpus");
    memset(out, 0, sizeof *out);
    if (!*v->data.corpus)
        return config_fail(err, "%s: data.corpus: no corpus given", config_where(c, kc));
    char *list = strdup(v->data.corpus), *save = NULL;
    char **bufs = NULL;
    size_t nbufs = 0;
    struct spans all = {0}; /* (buffer index, start, len) as two pushes per doc */
    size_t *bufidx = NULL;
    int rc = 0;
    if (!list)
        return -2;
    for (char *path = strtok_r(list, ",", &save); path && !rc;
         path = strtok_r(NULL, ",", &save)) {
        size_t len;
        FILE *f = fopen(path, "rb");
        char *text = f ? cli_read_all(f, &len) : NULL;
        if (f)
            fclose(f);
        if (!text) {
            rc = config_fail(err, "%s: data.corpus: cannot read '%s': %s", config_where(c, kc),
                             path, strerror(errno));
            break;
        }
        char **nb = realloc(bufs, (nbufs + 1) * sizeof *nb);
        if (!nb) {
            free(text);
            rc = -2;
            break;
        }
        bufs = nb;
        bufs[nbufs] = text;
        size_t *docs, ndocs;
        char why[CONFIG_ERR_MAX];
        if (corpus_split(text, len, v->data.split, v->data.header, &docs, &ndocs, why)) {
            rc = config_fail(err, "%s: %s", config_where(c, config_key_index("data.header")),
                             why);
            nbufs++;
            break;
        }
        size_t used = 0;
        for (size_t d = 0; d < ndocs && !rc; d++) {
            if (v->data.max_bytes && used + docs[2 * d + 1] > (size_t)v->data.max_bytes &&
                d > 0)
                break;
            used += docs[2 * d + 1];
            const char *hit =
                v->data.eot ? memchr(text + docs[2 * d], CORPUS_EOT, docs[2 * d + 1]) : NULL;
            if (hit) {
                size_t line = 1;
                for (const char *q = text; q < hit; q++)
                    line += *q == '\n';
                rc = config_fail(
                    err,
                    "%s:%zu: data.eot: the corpus holds the end-of-text byte 0x%02x "
                    "(it would end a document inside the text)",
                    path, line, CORPUS_EOT);
                break;
            }
            size_t *bi = realloc(bufidx, (all.n + 1) * sizeof *bi);
            if (!bi || push(&all, docs[2 * d], docs[2 * d + 1])) {
                free(bi ? bi : bufidx);
                bufidx = NULL;
                rc = -2;
                break;
            }
            bufidx = bi;
            bufidx[all.n - 1] = nbufs;
        }
        out->bytes_read += used;
        free(docs);
        nbufs++;
    }
    free(list);
    if (!rc && all.n < 2)
        rc = config_fail(
            err,
            "%s: data.corpus: %zu document%s; a train/validation split needs at least 2 "
            "(see data.split)",
            config_where(c, kc), all.n, all.n == 1 ? "" : "s");
    if (!rc) {
        /* a seeded shuffle picks the validation documents */
        size_t *order = malloc(all.n * sizeof *order);
        char *isvalid = calloc(all.n, 1);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        if (!order || !isvalid || !r) {
            rc = -2;
        } else {
            gsl_rng_set(
                r, (unsigned long)(v->data.split_seed ? v->data.split_seed : v->train.seed));
            for (size_t i = 0; i < all.n; i++)
                order[i] = i;
            gsl_ran_shuffle(r, order, all.n, sizeof *order);
            size_t nvalid = (size_t)(v->data.valid_fraction * (double)all.n + 0.5);
            nvalid = nvalid < 1 ? 1 : nvalid > all.n - 1 ? all.n - 1 : nvalid;
            for (size_t i = 0; i < nvalid; i++)
                isvalid[order[i]] = 1;
            out->nvalid_docs = nvalid;
            out->ntrain_docs = all.n - nvalid;
            out->ndocs = all.n;
            for (size_t i = 0; i < all.n; i++) {
                if (isvalid[i])
                    out->valid_len += all.v[2 * i + 1];
                else
                    out->train_len += all.v[2 * i + 1];
            }
            out->train = malloc(out->train_len + 1);
            out->valid = malloc(out->valid_len + 1);
            out->train_ends = malloc((out->ntrain_docs + 1) * sizeof *out->train_ends);
            out->valid_ends = malloc((out->nvalid_docs + 1) * sizeof *out->valid_ends);
            if (!out->train || !out->valid || !out->train_ends || !out->valid_ends) {
                rc = -2;
            } else {
                size_t nt = 0, nv = 0;
                size_t tp = 0, vp = 0;
                for (size_t i = 0; i < all.n; i++) {
                    const char *src = bufs[bufidx[i]] + all.v[2 * i];
                    size_t n = all.v[2 * i + 1];
                    if (isvalid[i]) {
                        memcpy(out->valid + vp, src, n);
                        vp += n;
                        out->valid_ends[nv++] = vp;
                    } else {
                        memcpy(out->train + tp, src, n);
                        tp += n;
                        out->train_ends[nt++] = tp;
                    }
                }
                out->train[tp] = out->valid[vp] = 0;
            }
        }
        free(order);
        free(isvalid);
        gsl_rng_free(r);
    }
    for (size_t i = 0; i < nbufs; i++)
        free(bufs[i]);
    free(bufs);
    free(bufidx);
    free(all.v);
    if (rc == -2)
        config_fail(err, "out of memory");
    if (rc)
        corpus_free(out);
    return rc;
}

void corpus_free(struct corpus *c)
{
    free(c->train);
    free(c->valid);
    free(c->train_ends);
    free(c->valid_ends);
    memset(c, 0, sizeof *c);
}

char *corpus_pack_eot(const char *text, size_t len, const size_t *ends, size_t ndocs,
                      size_t *out_len)
{
    char *out = malloc(len + ndocs + 1);
    if (!out)
        return NULL;
    size_t p = 0, from = 0;
    for (size_t i = 0; i < ndocs; i++) {
        memcpy(out + p, text + from, ends[i] - from);
        p += ends[i] - from;
        out[p++] = (char)CORPUS_EOT;
        from = ends[i];
    }
    memcpy(out + p, text + from, len - from); /* none when the ends cover the text */
    p += len - from;
    out[p] = 0;
    *out_len = p;
    return out;
}
