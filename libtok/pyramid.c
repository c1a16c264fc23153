/* pyramid.c: the pyramid object: construction checks and lookup tables, getters, the content
 * hash, decoding, error codes. */
#include "tok_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tok_strerror(int rc)
{
    switch (rc) {
    case TOK_OK:
        return "ok";
    case TOK_ENOMEM:
        return "out of memory";
    case TOK_EINVAL:
        return "invalid argument";
    case TOK_EIO:
        return "input/output error";
    case TOK_EREGEX:
        return "invalid pre-tokenizer regex";
    case TOK_ECORPUS:
        return "unusable corpus";
    case TOK_EFORMAT:
        return "bad file format";
    case TOK_ERANGE:
        return "out of range";
    default:
        return "unknown error";
    }
}

const char *tok_errmsg(const tok_err *err)
{
    if (!err)
        return "no error record";
    return err->msg[0] ? err->msg : tok_strerror(err->code);
}

int tok_fail(tok_err *err, int rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = rc;
    }
    return rc;
}

int tok_alloc(tok **out, int32_t ntok, size_t nbytes)
{
    tok *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t)
        return TOK_ENOMEM;
    t->ntok = ntok;
    size_t n = (size_t)ntok;
    t->bytes = malloc(nbytes ? nbytes : 1);
    t->off = calloc(n + 1, sizeof *t->off);
    t->left = malloc(n * sizeof *t->left);
    t->right = malloc(n * sizeof *t->right);
    t->count = calloc(n, sizeof *t->count);
    t->level = calloc(n, 1);
    t->stage = calloc(n, 1);
    if (!t->bytes || !t->off || !t->left || !t->right || !t->count || !t->level || !t->stage) {
        tok_close(&t);
        return TOK_ENOMEM;
    }
    *out = t;
    return TOK_OK;
}

void tok_close(tok **tp)
{
    if (!tp || !*tp)
        return;
    tok *t = *tp;
    free(t->bytes);
    free(t->off);
    free(t->left);
    free(t->right);
    free(t->count);
    free(t->level);
    free(t->stage);
    free(t->pattern);
    free(t->pretok_name);
    tok_pretok_free(&t->pre);
    tok_pairmap_free(&t->pairs);
    tok_bytemap_free(&t->byid);
    free(t);
    *tp = NULL;
}

/* Checks the levels and each token's level and stage against them. */
static int check_levels(const tok *t, tok_err *err)
{
    int L = t->nlevels;
    if (L < 1 || L > TOK_MAX_LEVELS)
        return tok_fail(err, TOK_EFORMAT, "%d levels", L);
    if (t->vocab[0] != 256)
        return tok_fail(err, TOK_EFORMAT, "level 0 has %d tokens, not 256", t->vocab[0]);
    for (int k = 1; k <= L; k++)
        if (t->vocab[k] <= t->vocab[k - 1])
            return tok_fail(err, TOK_EFORMAT,
                            "level %d (%d tokens) is not larger than level %d (%d)", k,
                            t->vocab[k], k - 1, t->vocab[k - 1]);
    if (t->vocab[L] != t->ntok)
        return tok_fail(err, TOK_EFORMAT, "top level has %d tokens, the file %d", t->vocab[L],
                        t->ntok);
    int32_t at[TOK_MAX_LEVELS + 1] = {0};
    for (int32_t id = 0; id < t->ntok; id++) {
        int lv = t->level[id];
        if (lv > L)
            return tok_fail(err, TOK_EFORMAT, "token %d: level %d of %d", id, lv, L);
        at[lv]++;
        int single = t->off[id + 1] - t->off[id] == 1;
        if (single != (lv == 0))
            return tok_fail(err, TOK_EFORMAT, "token %d: level %d for a %s-byte token", id, lv,
                            single ? "single" : "multi");
        /* merged tokens: their level is the first level whose limit is above their id */
        if (lv > 0 && (id >= t->limit[lv] || id < t->limit[lv - 1]))
            return tok_fail(err, TOK_EFORMAT, "token %d: level %d but levels are cut at %d..%d",
                            id, lv, t->limit[lv - 1], t->limit[lv]);
        int want = lv == 0 ? TOK_STAGE_BYTE
                           : (t->super_level && lv == t->super_level ? TOK_STAGE_SUPERWORD
                                                                     : TOK_STAGE_SUBWORD);
        if (t->stage[id] != want)
            return tok_fail(err, TOK_EFORMAT, "token %d: stage %d, expected %d", id,
                            t->stage[id], want);
    }
    for (int k = 1; k <= L; k++)
        at[k] += at[k - 1];
    for (int k = 0; k <= L; k++)
        if (at[k] != t->vocab[k])
            return tok_fail(err, TOK_EFORMAT,
                            "level %d lists %d tokens but %d tokens are in it", k, t->vocab[k],
                            at[k]);
    return TOK_OK;
}

/* RULE_RANKS (tiktoken): every split of a token into two tokens is a merge to it. */
static int add_rank_pairs(tok *t)
{
    bytestrs bs = {t->bytes, t->off};
    for (int32_t id = 0; id < t->ntok; id++) {
        size_t len;
        const uint8_t *p = tok_bytes_of(t, id, &len);
        for (size_t i = 1; i < len; i++) {
            int32_t a = tok_bytemap_get(&t->byid, bs, p, i);
            if (a < 0)
                continue;
            int32_t b = tok_bytemap_get(&t->byid, bs, p + i, len - i);
            if (b >= 0 && tok_pairmap_put(&t->pairs, a, b, id))
                return TOK_ENOMEM;
        }
    }
    return TOK_OK;
}

int tok_finish(tok *t, tok_err *err)
{
    int rc = check_levels(t, err);
    if (rc)
        return rc;
    bytestrs bs = {t->bytes, t->off};
    if (tok_bytemap_init(&t->byid, (size_t)t->ntok))
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    for (int32_t id = 0; id < t->ntok; id++) {
        int32_t prev = tok_bytemap_add(&t->byid, bs, id);
        if (prev < 0)
            return tok_fail(err, TOK_ENOMEM, "out of memory");
        if (prev != id)
            return tok_fail(err, TOK_EFORMAT, "tokens %d and %d have the same bytes", prev, id);
        if (t->off[id + 1] - t->off[id] == 1)
            t->byte_id[t->bytes[t->off[id]]] = id;
    }
    if (tok_pairmap_init(&t->pairs, (size_t)t->ntok))
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    if (t->rule == RULE_MERGES) {
        for (int32_t id = 0; id < t->ntok; id++) {
            int32_t l = t->left[id], r = t->right[id];
            if (t->level[id] == 0) {
                if (l != -1 || r != -1)
                    return tok_fail(err, TOK_EFORMAT, "byte token %d has merge parts", id);
                continue;
            }
            if (l < 0 || r < 0 || l >= id || r >= id)
                return tok_fail(err, TOK_EFORMAT,
                                "token %d: merge parts %d, %d are not earlier tokens", id, l,
                                r);
            size_t ln, rn, n;
            const uint8_t *lp = tok_bytes_of(t, l, &ln), *rp = tok_bytes_of(t, r, &rn),
                          *p = tok_bytes_of(t, id, &n);
            if (ln + rn != n || memcmp(lp, p, ln) || memcmp(rp, p + ln, rn))
                return tok_fail(err, TOK_EFORMAT,
                                "token %d is not the concatenation of tokens %d and %d", id, l,
                                r);
            if (t->super_level && id < t->super_start &&
                (l >= t->super_start || r >= t->super_start))
                return tok_fail(err, TOK_EFORMAT,
                                "subword token %d is made of superword tokens", id);
            if (t->super_level && id >= t->super_start && (memchr(p, '\n', n)))
                return tok_fail(err, TOK_EFORMAT, "superword token %d contains a newline", id);
            if (tok_pairmap_get(&t->pairs, l, r) >= 0)
                return tok_fail(err, TOK_EFORMAT, "tokens %d and %d merge twice", l, r);
            if (tok_pairmap_put(&t->pairs, l, r, id))
                return tok_fail(err, TOK_ENOMEM, "out of memory");
        }
    } else if (add_rank_pairs(t)) {
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    }
    rc = tok_pretok_compile(&t->pre, t->pattern, err);
    if (rc)
        return rc;
    free(t->pretok_name);
    if (!(t->pretok_name = strdup(tok_pretok_preset_name(t->pre))))
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    t->hash = tok_content_hash(t, false);
    return TOK_OK;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t fnv_i64(uint64_t h, int64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)v >> (8 * i));
    return fnv(h, b, 8);
}

uint64_t tok_content_hash(const tok *t, bool with_counts)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv(h, "pyramid/1", 9);
    h = fnv_i64(h, t->rule);
    h = fnv(h, t->pattern, strlen(t->pattern) + 1);
    h = fnv_i64(h, t->nlevels);
    for (int k = 0; k <= t->nlevels; k++)
        h = fnv_i64(fnv_i64(h, t->vocab[k]), t->limit[k]);
    h = fnv_i64(fnv_i64(h, t->super_level), t->super_start);
    for (int32_t id = 0; id < t->ntok; id++) {
        size_t n;
        const uint8_t *p = tok_bytes_of(t, id, &n);
        h = fnv_i64(h, (int64_t)n);
        h = fnv(h, p, n);
        h = fnv_i64(fnv_i64(h, t->left[id]), t->right[id]);
        if (with_counts)
            h = fnv_i64(h, t->count[id]);
    }
    return h;
}

int tok_nlevels(const tok *t)
{
    return t->nlevels;
}
int32_t tok_ntokens(const tok *t)
{
    return t->ntok;
}
int tok_superword_level(const tok *t)
{
    return t->super_level;
}
const char *tok_pretok(const tok *t)
{
    return t->pattern;
}
const char *tok_pretok_name(const tok *t)
{
    return t->pretok_name;
}

int32_t tok_vocab_size(const tok *t, int level)
{
    return level < 0 || level > t->nlevels ? -1 : t->vocab[level];
}

const uint8_t *tok_token_bytes(const tok *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->ntok)
        return NULL;
    return tok_bytes_of(t, id, len);
}

int tok_token_level(const tok *t, int32_t id)
{
    return id < 0 || id >= t->ntok ? -1 : t->level[id];
}
int tok_token_stage(const tok *t, int32_t id)
{
    return id < 0 || id >= t->ntok ? -1 : t->stage[id];
}
int64_t tok_token_count(const tok *t, int32_t id)
{
    return id < 0 || id >= t->ntok ? -1 : t->count[id];
}

int tok_token_parts(const tok *t, int32_t id, int32_t *left, int32_t *right)
{
    if (id < 0 || id >= t->ntok)
        return TOK_ERANGE;
    *left = t->left[id];
    *right = t->right[id];
    return TOK_OK;
}

void tok_hash(const tok *t, char hex[17])
{
    snprintf(hex, 17, "%016llx", (unsigned long long)t->hash);
}

int tok_decode(const tok *t, int level, const int32_t *ids, size_t n, uint8_t **out,
               size_t *outlen, tok_err *err)
{
    tok_err_clear(err);
    *out = NULL;
    *outlen = 0;
    if (level < -1 || level > t->nlevels)
        return tok_fail(err, TOK_ERANGE, "level %d (the pyramid has levels 0..%d)", level,
                        t->nlevels);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->ntok)
            return tok_fail(err, TOK_ERANGE,
                            "id %d at position %zu is out of range (ids 0..%d)", id, i,
                            t->ntok - 1);
        if (level >= 0 && t->level[id] > level)
            return tok_fail(err, TOK_ERANGE,
                            "id %d at position %zu is not in level %d (it is in level %d)", id,
                            i, level, t->level[id]);
        total += t->off[id + 1] - t->off[id];
    }
    uint8_t *b = malloc(total ? total : 1);
    if (!b)
        return tok_fail(err, TOK_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *p = tok_bytes_of(t, ids[i], &len);
        memcpy(b + k, p, len);
        k += len;
    }
    *out = b;
    *outlen = total;
    return TOK_OK;
}

void tok_ids_free(tok_ids *ids)
{
    if (!ids)
        return;
    free(ids->ids);
    free(ids->start);
    memset(ids, 0, sizeof *ids);
}
