/* test_tiktoken.c: imported tiktoken vocabularies encode exactly as tiktoken does (fixture:
 * subsets of cl100k_base and o200k_base with tiktoken's ids for a mixed text); bad rank files. */
#include "test_tok.h"

#include <stdlib.h>
#include <string.h>

static char *fixture(const char *name)
{
    static char buf[4][4096];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 4096, "%s/tiktoken/%s", fixture_dir, name);
    return p;
}

/* whitespace-separated integers of a file */
static long *read_ints(const char *path, size_t *n)
{
    blob b = read_blob(path);
    long *v = malloc((b.n / 2 + 1) * sizeof *v);
    *n = 0;
    char *s = (char *)b.p, *end = s + b.n;
    while (s < end) {
        if (*s < '0' || *s > '9') {
            s++;
            continue;
        }
        long x = 0;
        while (s < end && *s >= '0' && *s <= '9')
            x = x * 10 + (*s++ - '0');
        v[(*n)++] = x;
    }
    free_blob(&b);
    return v;
}

static void check_exact(const char *name, const char *pretok)
{
    char subset[64], ranks[64], idsf[64];
    snprintf(subset, sizeof subset, "%s_subset.tiktoken", name);
    snprintf(ranks, sizeof ranks, "%s_subset.ranks", name);
    snprintf(idsf, sizeof idsf, "%s.ids", name);
    tok *t = NULL;
    tok_err e = {0};
    int rc = tok_import_tiktoken(&t, fixture(subset), pretok, &e);
    CHECK_OK(rc, e);
    if (rc)
        return;
    CHECK(!strcmp(tok_pretok_name(t), name), "pre-tokenizer %s for %s", tok_pretok_name(t),
          name);
    size_t nr, nw;
    long *orig = read_ints(fixture(ranks), &nr), *want = read_ints(fixture(idsf), &nw);
    CHECK_INT(nr, tok_ntokens(t));
    blob text = read_blob(fixture("text.txt"));
    tok_ids ids = {0};
    CHECK_INT(0, tok_encode_parallel(t, 1, text.p, text.n, 1, &ids));
    size_t i = 0;
    while (i < ids.n && i < nw && orig[ids.ids[i]] == want[i])
        i++;
    CHECK(ids.n == nw && i == nw,
          "%s: %zu ids, tiktoken %zu; first difference at %zu: %ld vs tiktoken %ld (byte %zu)",
          name, ids.n, nw, i, i < ids.n ? orig[ids.ids[i]] : -1L, i < nw ? want[i] : -1L,
          i < ids.n ? ids.start[i] : 0);
    uint8_t *out;
    size_t n;
    CHECK_INT(0, tok_decode(t, 1, ids.ids, ids.n, &out, &n, &e));
    CHECK(n == text.n && !memcmp(out, text.p, n), "%s: round trip", name);
    free(out);
    /* the single bytes keep their tiktoken ranks: byte b is not id b */
    size_t len;
    int32_t moved = 0;
    for (int32_t id = 0; id < tok_ntokens(t); id++) {
        const uint8_t *b = tok_token_bytes(t, id, &len);
        if (tok_token_level(t, id) == 0 && b[0] != id)
            moved++;
    }
    CHECK(moved > 0, "%s: single bytes keep tiktoken's ranks", name);
    /* saved and loaded, the same ids */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.pyr", tmp_dir, name);
    CHECK_INT(0, tok_save(t, path, &e));
    tok *u = NULL;
    rc = tok_open(&u, path, &e);
    CHECK_OK(rc, e);
    if (!rc) {
        tok_ids again = {0};
        tok_encode_parallel(u, 1, text.p, text.n, 1, &again);
        CHECK(again.n == ids.n && !memcmp(again.ids, ids.ids, ids.n * sizeof *ids.ids),
              "%s: ids change after save/load", name);
        tok_ids_free(&again);
    }
    tok_close(&u);
    tok_ids_free(&ids);
    free_blob(&text);
    free(orig);
    free(want);
    tok_close(&t);
}

static void expect_bad_ranks(const char *content, const char *want)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bad.tiktoken", tmp_dir);
    FILE *f = fopen(path, "w");
    for (int b = 0; b < 256; b++) { /* a valid start: the 256 bytes as ranks 0..255 */
        static const char *al =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        fprintf(f, "%c%c== %d\n", al[b >> 2], al[(b & 3) << 4], b);
    }
    fputs(content, f);
    fclose(f);
    tok *t = (tok *)1;
    tok_err e = {0};
    int rc = tok_import_tiktoken(&t, path, NULL, &e);
    CHECK(rc == TOK_EFORMAT && t == NULL, "'%s': expected a format error, got %s", content,
          tok_strerror(rc));
    CHECK(strstr(e.msg, want) != NULL, "'%s': message '%s' lacks '%s'", content, e.msg, want);
}

void test_tiktoken(void)
{
    check_exact("cl100k", NULL);
    check_exact("o200k", "o200k");
    expect_bad_ranks("aGk= 256\n!!!! 257\n", ":258: bad base64");
    expect_bad_ranks("aGk= 256\naGk 300\n", "rank 300");
    expect_bad_ranks("aGk= 256\naGk 256\n", "appears twice");
    expect_bad_ranks("aGk= 256 extra\n", ":257: expected");
    expect_bad_ranks("aGk= 256\naGk= 257\n", "same bytes");
    tok *t;
    tok_err e = {0};
    CHECK_INT(TOK_EIO, tok_import_tiktoken(&t, "/nonexistent.tiktoken", NULL, &e));
    CHECK_INT(TOK_EREGEX,
              tok_import_tiktoken(&t, fixture("cl100k_subset.tiktoken"), "(?<", &e));
}
