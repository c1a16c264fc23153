/* test_train.c: training: the same pyramid for any thread count, the same merges as a naive
 * reference BPE (recount everything per merge) on a small corpus, and bad settings refused. */
#include "test_tok.h"
#include "tok_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- the naive reference ---- */

typedef struct {
    int32_t *s;
    size_t n;
} seq;

typedef struct {
    int32_t ntok, cap;
    uint8_t **bytes;
    size_t *len;
    int32_t *left, *right;
    int64_t *count;
} refvocab;

static void ref_push(refvocab *v, const uint8_t *p, size_t n, int32_t l, int32_t r, int64_t c)
{
    if (v->ntok == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 512;
        v->bytes = realloc(v->bytes, (size_t)v->cap * sizeof *v->bytes);
        v->len = realloc(v->len, (size_t)v->cap * sizeof *v->len);
        v->left = realloc(v->left, (size_t)v->cap * sizeof *v->left);
        v->right = realloc(v->right, (size_t)v->cap * sizeof *v->right);
        v->count = realloc(v->count, (size_t)v->cap * sizeof *v->count);
    }
    v->bytes[v->ntok] = malloc(n);
    memcpy(v->bytes[v->ntok], p, n);
    v->len[v->ntok] = n;
    v->left[v->ntok] = l;
    v->right[v->ntok] = r;
    v->count[v->ntok++] = c;
}

static int ref_has(const refvocab *v, const uint8_t *p, size_t n)
{
    for (int32_t i = 0; i < v->ntok; i++)
        if (v->len[i] == n && !memcmp(v->bytes[i], p, n))
            return 1;
    return 0;
}

/* Merges until target tokens: recount all pairs of all sequences for every merge. */
static int ref_learn(refvocab *v, seq *q, size_t nq, int32_t target)
{
    size_t V = (size_t)target;
    int64_t *cnt = calloc(V * V, sizeof *cnt);
    uint8_t *banned = calloc(V * V, 1), *cat = malloc(1 << 16);
    int ok = 1;
    while (v->ntok < target) {
        for (size_t i = 0; i < nq; i++)
            for (size_t j = 0; j + 1 < q[i].n; j++)
                cnt[(size_t)q[i].s[j] * V + (size_t)q[i].s[j + 1]]++;
        int32_t bl = -1, br = -1;
        for (;;) { /* the best pair not banned: highest count, then smaller l, then smaller r */
            int64_t best = 0;
            bl = -1;
            for (size_t i = 0; i < nq; i++)
                for (size_t j = 0; j + 1 < q[i].n; j++) {
                    int32_t l = q[i].s[j], r = q[i].s[j + 1];
                    int64_t c = cnt[(size_t)l * V + (size_t)r];
                    if (banned[(size_t)l * V + (size_t)r] || c < best)
                        continue;
                    if (c > best || l < bl || (l == bl && r < br))
                        best = c, bl = l, br = r;
                }
            if (bl < 0)
                break;
            banned[(size_t)bl * V + (size_t)br] = 1;
            memcpy(cat, v->bytes[bl], v->len[bl]);
            memcpy(cat + v->len[bl], v->bytes[br], v->len[br]);
            if (!ref_has(v, cat, v->len[bl] + v->len[br]))
                break;
        }
        if (bl < 0) {
            ok = 0;
            break;
        }
        int32_t c = v->ntok;
        ref_push(v, cat, v->len[bl] + v->len[br], bl, br, cnt[(size_t)bl * V + (size_t)br]);
        for (size_t i = 0; i < nq; i++) { /* clear the counts, then merge */
            for (size_t j = 0; j + 1 < q[i].n; j++)
                cnt[(size_t)q[i].s[j] * V + (size_t)q[i].s[j + 1]] = 0;
            size_t k = 0;
            for (size_t j = 0; j < q[i].n; j++) {
                if (j + 1 < q[i].n && q[i].s[j] == bl && q[i].s[j + 1] == br) {
                    q[i].s[k++] = c;
                    j++;
                } else {
                    q[i].s[k++] = q[i].s[j];
                }
            }
            q[i].n = k;
        }
    }
    free(cnt);
    free(banned);
    free(cat);
    return ok;
}

static void compare_with_reference(const blob *text, const char *preset, int32_t level,
                                   int32_t sup)
{
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.pretok = preset;
    s.levels[0] = level;
    s.superword = sup;
    const void *texts[] = {text->p};
    size_t lens[] = {text->n};
    tok *t;
    tok_err e = {0};
    int rc = tok_train_buffers(&t, &s, texts, lens, 1, &e);
    CHECK_OK(rc, e);
    if (rc)
        return;
    /* pre-tokens of the text, each as a sequence of bytes */
    pretok *pre;
    pretok_matcher *m;
    tok_pretok_compile(&pre, preset, NULL);
    tok_pretok_matcher_open(&m, pre);
    size_t nq = 0, cap = 1024, ps, pe;
    seq *q = malloc(cap * sizeof *q);
    size_t *starts = malloc(cap * sizeof *starts);
    pretok_iter it = {0};
    while (tok_pretok_next(m, text->p, text->n, &it, &ps, &pe)) {
        if (nq == cap) {
            q = realloc(q, (cap *= 2) * sizeof *q);
            starts = realloc(starts, cap * sizeof *starts);
        }
        q[nq].n = pe - ps;
        q[nq].s = malloc((pe - ps) * sizeof(int32_t));
        for (size_t i = ps; i < pe; i++)
            q[nq].s[i - ps] = text->p[i];
        starts[nq++] = ps;
    }
    refvocab v = {0};
    int64_t bc[256] = {0};
    for (size_t i = 0; i < text->n; i++)
        bc[text->p[i]]++;
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        ref_push(&v, &c, 1, -1, -1, bc[b]);
    }
    CHECK(ref_learn(&v, q, nq, level), "reference ran out of pairs before %d", level);
    if (sup) { /* lines: runs of pre-tokens without a newline */
        seq *lines = malloc(nq * sizeof *lines);
        size_t nl = 0;
        for (size_t i = 0; i < nq;) {
            if (memchr(text->p + starts[i], '\n',
                       (i + 1 < nq ? starts[i + 1] : text->n) - starts[i])) {
                i++;
                continue;
            }
            size_t j = i, n = 0;
            while (j < nq && !memchr(text->p + starts[j], '\n',
                                     (j + 1 < nq ? starts[j + 1] : text->n) - starts[j]))
                n += q[j++].n;
            lines[nl].s = malloc(n * sizeof(int32_t));
            lines[nl].n = 0;
            for (size_t k = i; k < j; k++) {
                memcpy(lines[nl].s + lines[nl].n, q[k].s, q[k].n * sizeof(int32_t));
                lines[nl].n += q[k].n;
            }
            nl++;
            i = j;
        }
        CHECK(ref_learn(&v, lines, nl, sup), "reference ran out of pairs before %d", sup);
        for (size_t i = 0; i < nl; i++)
            free(lines[i].s);
        free(lines);
    }
    CHECK_INT(v.ntok, tok_ntokens(t));
    int bad = 0;
    for (int32_t id = 0; id < v.ntok && id < tok_ntokens(t) && bad < 3; id++) {
        int32_t l, r;
        tok_token_parts(t, id, &l, &r);
        if (l != v.left[id] || r != v.right[id] || tok_token_count(t, id) != v.count[id]) {
            CHECK(0, "%s token %d: merge (%d, %d) count %lld, reference (%d, %d) count %lld",
                  preset, id, l, r, (long long)tok_token_count(t, id), v.left[id], v.right[id],
                  (long long)v.count[id]);
            bad++;
        }
    }
    for (size_t i = 0; i < nq; i++)
        free(q[i].s);
    for (int32_t i = 0; i < v.ntok; i++)
        free(v.bytes[i]);
    free(v.bytes), free(v.len), free(v.left), free(v.right), free(v.count);
    free(q);
    free(starts);
    tok_pretok_matcher_close(&m);
    tok_pretok_free(&pre);
    tok_close(&t);
}

/* ---- determinism ---- */

static void test_threads(void)
{
    blob kjv = data_file("prose/kjv.txt"); /* > 1 MiB: several counting blocks */
    kjv.n = 2500000;
    tok *ref = NULL;
    for (int nt = 1; nt <= 3; nt += 2) {
        tok_train_settings s;
        tok_default_train_settings(&s);
        s.nlevels = 2;
        s.levels[0] = 600;
        s.levels[1] = 1200;
        s.superword = 1600;
        s.nthreads = nt;
        const void *texts[] = {kjv.p, kjv.p + 100};
        size_t lens[] = {kjv.n, 50000};
        tok *t;
        tok_err e = {0};
        int rc = tok_train_buffers(&t, &s, texts, lens, 2, &e);
        CHECK_OK(rc, e);
        if (rc)
            break;
        if (!ref) {
            ref = t;
            continue;
        }
        char h1[17], h2[17];
        tok_hash(ref, h1);
        tok_hash(t, h2);
        CHECK(!strcmp(h1, h2), "%d threads: hash %s, 1 thread %s", nt, h2, h1);
        int64_t diff = 0;
        for (int32_t id = 0; id < tok_ntokens(t); id++)
            diff += tok_token_count(t, id) != tok_token_count(ref, id);
        CHECK_INT(0, diff);
        tok_close(&t);
    }
    tok_close(&ref);
    free_blob(&kjv);
}

/* ---- bad settings and corpora ---- */

static int train_err(tok_train_settings s, const char *text, tok_err *e)
{
    const void *texts[] = {text};
    size_t lens[] = {strlen(text)};
    tok *t = (tok *)1;
    int rc = tok_train_buffers(&t, &s, texts, lens, 1, e);
    CHECK(t == NULL, "no pyramid on error");
    return rc;
}

static void test_bad_settings(void)
{
    tok_err e = {0};
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.nlevels = 2;
    s.levels[0] = 1000;
    s.levels[1] = 900;
    CHECK_INT(TOK_EINVAL, train_err(s, "some text", &e));
    CHECK(strstr(e.msg, "increase") != NULL, "message: %s", e.msg);
    s.levels[1] = 2000;
    s.superword = 1500;
    CHECK_INT(TOK_EINVAL, train_err(s, "some text", &e));
    CHECK(strstr(e.msg, "superword") != NULL, "message: %s", e.msg);
    tok_default_train_settings(&s);
    s.levels[0] = 256;
    CHECK_INT(TOK_EINVAL, train_err(s, "some text", &e));
    tok_default_train_settings(&s);
    s.pretok = "(unclosed";
    CHECK_INT(TOK_EREGEX, train_err(s, "some text", &e));
    CHECK(strstr(e.msg, "offset 9") != NULL && strstr(e.msg, "missing closing parenthesis"),
          "message: %s", e.msg);
    CHECK_INT(TOK_EREGEX, tok_check_pretok("[a-", &e));
    tok_default_train_settings(&s);
    CHECK_INT(TOK_ECORPUS, train_err(s, "", &e));
    CHECK_INT(TOK_ECORPUS, train_err(s, "tiny text", &e));
    CHECK(strstr(e.msg, "too small") != NULL, "message: %s", e.msg);
    const char *paths[] = {"/nonexistent/corpus.txt"};
    tok *t;
    CHECK_INT(TOK_EIO, tok_train_files(&t, &s, paths, 1, &e));
    CHECK(strstr(e.msg, "/nonexistent/corpus.txt") != NULL, "message: %s", e.msg);
    paths[0] = tmp_dir;
    CHECK_INT(TOK_EIO, tok_train_files(&t, &s, paths, 1, &e));
    static const char *presets[] = {"gpt2", "cl100k", "o200k", "code", "whitespace"};
    for (int i = 0; i < 5; i++) {
        CHECK(tok_preset_pattern(presets[i]) != NULL, "preset %s", presets[i]);
        CHECK_INT(0, tok_check_pretok(presets[i], &e));
    }
    CHECK(tok_preset_pattern("nope") == NULL, "unknown preset");
}

/* A pattern that leaves gaps (bytes it does not match) still covers every byte. */
static void test_gappy_regex(void)
{
    blob text = prose_text();
    text.n = 200000;
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.pretok = "\\p{L}+";
    s.levels[0] = 700;
    s.superword = 900;
    const void *texts[] = {text.p};
    size_t lens[] = {text.n};
    tok *t;
    tok_err e = {0};
    int rc = tok_train_buffers(&t, &s, texts, lens, 1, &e);
    CHECK_OK(rc, e);
    if (rc)
        return;
    CHECK(!strcmp(tok_pretok_name(t), "custom"), "name %s", tok_pretok_name(t));
    blob r = random_bytes(3, 50000, 1);
    for (int k = 0; k <= tok_nlevels(t); k++) {
        tok_ids ids = {0};
        tok_encode_parallel(t, k, r.p, r.n, 1, &ids);
        uint8_t *out;
        size_t n;
        CHECK_INT(0, tok_decode(t, k, ids.ids, ids.n, &out, &n, &e));
        CHECK(n == r.n && !memcmp(out, r.p, n), "gappy regex level %d: round trip", k);
        free(out);
        tok_ids_free(&ids);
    }
    free_blob(&r);
    tok_close(&t);
}

void test_train(void)
{
    blob prose = prose_text(), code = code_text();
    blob small = {prose.p + 1000, 25000}, csmall = {code.p + 5000, 20000};
    compare_with_reference(&small, "cl100k", 600, 750);
    compare_with_reference(&csmall, "code", 500, 650);
    compare_with_reference(&small, "gpt2", 450, 0);
    test_threads();
    test_bad_settings();
    test_gappy_regex();
    /* the trained pyramids describe themselves */
    const tok *p = prose_pyramid();
    CHECK_INT(4, tok_nlevels(p));
    CHECK_INT(4, tok_superword_level(p));
    CHECK_INT(3000, tok_vocab_size(p, 3));
    CHECK_INT(5000, tok_vocab_size(p, 4));
    CHECK_INT(-1, tok_vocab_size(p, 5));
    CHECK_INT(TOK_STAGE_SUPERWORD, tok_token_stage(p, 4000));
    CHECK_INT(TOK_STAGE_BYTE, tok_token_stage(p, 65));
    CHECK_INT(2, tok_token_level(p, 999));
    size_t n;
    const uint8_t *b = tok_token_bytes(p, 'A', &n);
    CHECK(n == 1 && b[0] == 'A', "id 65 is byte 'A'");
    for (int32_t id = 3000; id < 5000; id++) {
        b = tok_token_bytes(p, id, &n);
        if (memchr(b, '\n', n)) {
            CHECK(0, "superword token %d holds a newline", id);
            break;
        }
    }
}
