/* fuzz_encode.c: arbitrary bytes through three small pyramids trained or imported once (cl100k
 * with three subword levels and a superword level, the code preset, an imported tiktoken
 * subset): exact round trip at every level, the levels nest, the joint and parallel encodings
 * agree, decoding any ids never misbehaves. */
#include "fuzz_common.h"
#include "tok.h"

#include <string.h>

enum { NPYR = 3 };
static tok *pyramids[NPYR];
static tok_encoder *encoders[NPYR];
static tok *T;
static tok_encoder *E;
static int L;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    size_t n[2];
    uint8_t *text[2] = {fuzz_data("data/prose/kjv.txt", 48000, &n[0]),
                        fuzz_data("data/code/python-stdlib.txt", 48000, &n[1])};
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.nlevels = 3;
    s.levels[0] = 300, s.levels[1] = 380, s.levels[2] = 500;
    s.superword = 600;
    tok_err err;
    int rc = tok_train_buffers(&pyramids[0], &s, (const void *const *)text, n, 2, &err);
    FUZZ_CHECK(rc == 0, "training the pyramid: %s", err.msg);
    s.pretok = "code";
    s.nlevels = 1;
    s.levels[0] = 400;
    s.superword = 0;
    rc = tok_train_buffers(&pyramids[1], &s, (const void *const *)text, n, 2, &err);
    FUZZ_CHECK(rc == 0, "training the code pyramid: %s", err.msg);
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/tok/fixtures/tiktoken/cl100k_subset.tiktoken",
             FUZZ_SOURCE_ROOT);
    rc = tok_import_tiktoken(&pyramids[2], path, "cl100k", &err);
    FUZZ_CHECK(rc == 0, "importing %s: %s", path, err.msg);
    for (int i = 0; i < NPYR; i++)
        FUZZ_CHECK(tok_encoder_open(&encoders[i], pyramids[i]) == 0, "encoder");
    free(text[0]);
    free(text[1]);
    return 0;
}

/* One level: ids in the level's vocabulary, starts that tile the input with each token's
 * bytes, and decode(encode(x)) == x. */
static void check_level(int k, const uint8_t *data, size_t size, const tok_ids *ids)
{
    size_t at = 0;
    for (size_t i = 0; i < ids->n; i++) {
        int32_t id = ids->ids[i];
        FUZZ_CHECK(id >= 0 && id < tok_ntokens(T) && tok_token_level(T, id) >= 0 &&
                       tok_token_level(T, id) <= k,
                   "level %d: token %zu is id %d of level %d", k, i, id,
                   tok_token_level(T, id));
        size_t len;
        const uint8_t *b = tok_token_bytes(T, id, &len);
        FUZZ_CHECK(ids->start[i] == at, "level %d: token %zu starts at %zu, expected %zu", k, i,
                   ids->start[i], at);
        FUZZ_CHECK(b && len > 0 && at + len <= size && !memcmp(b, data + at, len),
                   "level %d: token %zu (id %d) is not the input's bytes at %zu", k, i, id, at);
        at += len;
    }
    FUZZ_CHECK(at == size, "level %d: tokens cover %zu of %zu bytes", k, at, size);
    uint8_t *out;
    size_t outlen;
    tok_err err;
    int rc = tok_decode(T, k, ids->ids, ids->n, &out, &outlen, &err);
    FUZZ_CHECK(rc == 0, "level %d: decode: %s", k, err.msg);
    FUZZ_CHECK(outlen == size && (size == 0 || !memcmp(out, data, size)),
               "level %d: decode(encode(x)) != x (%zu bytes, %zu decoded)", k, size, outlen);
    free(out);
}

static void check_pyramid(const uint8_t *data, size_t size)
{
    tok_ids ids[TOK_MAX_LEVELS + 1];
    memset(ids, 0, sizeof ids);
    for (int k = 0; k <= L; k++) {
        FUZZ_CHECK(tok_encode(E, k, data, size, &ids[k]) == 0, "encode at level %d", k);
        check_level(k, data, size, &ids[k]);
    }
    /* joint encoding of all levels */
    tok_align a = {0};
    FUZZ_CHECK(tok_encode_aligned(E, 0, L, data, size, &a) == 0, "aligned encoding");
    FUZZ_CHECK(a.len == size, "aligned length %zu, input %zu", a.len, size);
    for (int k = 0; k <= L; k++) {
        FUZZ_CHECK(a.n[k] == ids[k].n, "level %d: joint encoding has %zu tokens, alone %zu", k,
                   a.n[k], ids[k].n);
        FUZZ_CHECK(!a.n[k] || !memcmp(a.ids[k], ids[k].ids, a.n[k] * sizeof(int32_t)),
                   "level %d: joint and separate encodings differ", k);
        FUZZ_CHECK(a.start[k][a.n[k]] == size, "level %d: start[n] = %zu, length %zu", k,
                   a.start[k][a.n[k]], size);
        if (k == 0)
            continue;
        FUZZ_CHECK(a.first[k][0] == 0 && a.first[k][a.n[k]] == a.n[0],
                   "level %d: runs cover %zu..%zu of %zu fine tokens", k, a.first[k][0],
                   a.first[k][a.n[k]], a.n[0]);
        for (size_t u = 0; u < a.n[k]; u++) {
            size_t f0 = a.first[k][u], f1 = a.first[k][u + 1];
            FUZZ_CHECK(f0 < f1, "level %d: token %zu holds no fine token", k, u);
            FUZZ_CHECK(a.start[k][u] == a.start[0][f0] && a.start[k][u + 1] == a.start[0][f1],
                       "level %d: token %zu's bytes are not its fine tokens' bytes", k, u);
            for (size_t i = f0; i < f1; i++)
                FUZZ_CHECK(a.unit[k][i] == u, "level %d: fine token %zu in unit %zu, not %zu",
                           k, i, a.unit[k][i], u);
        }
    }
    tok_align_free(&a);
    /* the parallel encoder gives the same ids */
    tok_ids par = {0};
    FUZZ_CHECK(tok_encode_parallel(T, L, data, size, 2, &par) == 0, "parallel encoding");
    FUZZ_CHECK(par.n == ids[L].n && (!par.n || !memcmp(par.ids, ids[L].ids, par.n * 4)),
               "parallel and single-thread encodings differ (%zu vs %zu tokens)", par.n,
               ids[L].n);
    tok_ids_free(&par);
    for (int k = 0; k <= L; k++)
        tok_ids_free(&ids[k]);
    /* the input read as ids: decoding at any level succeeds or names a bad id */
    size_t nid = size / 4;
    const int32_t *raw = NULL;
    int32_t *copy = nid ? malloc(nid * sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, data, nid * sizeof *copy);
        raw = copy;
    }
    for (int k = -1; k <= L; k++) {
        uint8_t *out = NULL;
        size_t outlen;
        tok_err err;
        int rc = tok_decode(T, k, raw, nid, &out, &outlen, &err);
        FUZZ_CHECK(rc == 0 || (rc == TOK_ERANGE && !out), "decode of raw ids at level %d: %s",
                   k, tok_strerror(rc));
        if (rc == 0)
            for (size_t i = 0; i < nid; i++)
                FUZZ_CHECK(raw[i] >= 0 && raw[i] < tok_ntokens(T) &&
                               (k < 0 || tok_token_level(T, raw[i]) <= k),
                           "level %d: id %d (of level %d) accepted", k, raw[i],
                           tok_token_level(T, raw[i]));
        free(out);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int i = 0; i < NPYR; i++) {
        T = pyramids[i];
        E = encoders[i];
        L = tok_nlevels(T);
        check_pyramid(data, size);
    }
    return 0;
}
