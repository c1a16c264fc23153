/* test_export.c: libtok's exports without the libraries that load them: what is refused and
 * why (a token its own bytes do not encode to, a tiktoken token no merge makes), the files'
 * contents, and a tiktoken export imported back encoding as the pyramid does.
 * Usage: test_export DATA_DIR TMP_DIR. Ends with "N passed, M failed". */
#include "../check.h"
#include "tok.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int check_count, check_failures;
static const char *data_dir, *tmp_dir;

static const char *tmp_path(const char *name)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_dir, name);
    return buf[k];
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p)
        p[len] = 0;
    *n = (size_t)len;
    return p;
}

static int exec_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    int rc = sqlite3_open(path, &db);
    if (!rc)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* A pyramid of 259 tokens whose last three are rewritten as 256 = "bc" (b, c), 257 = "ab"
 * (a, b), 258 = "abc" ("ab", "c"): a valid file, but "abc" alone encodes as "a" "bc"
 * (merge 256 comes first), which tiktoken would encode as 258. The checksum is set to what
 * the library computes (its message names it). */
static tok *improper_pyramid(void)
{
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.pretok = "gpt2";
    s.levels[0] = 259;
    const char *text = "hello world, hello there, hello again";
    const void *texts[] = {text};
    size_t lens[] = {strlen(text)};
    tok *t = NULL;
    tok_err e = {0};
    int rc = tok_train_buffers(&t, &s, texts, lens, 1, &e);
    CHECK(rc == 0, "train: %s", e.msg);
    const char *path = tmp_path("improper.pyr");
    unlink(path);
    rc = rc ? rc : tok_save(t, path, &e);
    tok_close(&t);
    CHECK_INT(0, exec_sql(path, "UPDATE tokens SET bytes = CAST('bc' AS BLOB), left = 98, "
                                "right = 99 WHERE rank = 256;"
                                "UPDATE tokens SET bytes = CAST('ab' AS BLOB), left = 97, "
                                "right = 98 WHERE rank = 257;"
                                "UPDATE tokens SET bytes = CAST('abc' AS BLOB), left = 257, "
                                "right = 99 WHERE rank = 258;"));
    rc = tok_open(&t, path, &e);
    const char *have = strstr(e.msg, "match the contents (");
    CHECK(rc == TOK_EFORMAT && have, "expected a checksum error, got %d: %s", rc, e.msg);
    if (!have)
        return NULL;
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE meta SET value = '%.16s' WHERE key = 'checksum'",
             have + strlen("match the contents ("));
    CHECK_INT(0, exec_sql(path, sql));
    rc = tok_open(&t, path, &e);
    CHECK(rc == 0, "open the rewritten pyramid: %s", e.msg);
    return t;
}

static void test_refusals(void)
{
    tok_err e = {0};
    tok *t = improper_pyramid();
    if (t) {
        /* what pyramask does with "abc": two tokens, so tiktoken's rule would differ */
        tok_encoder *enc;
        tok_ids ids = {0};
        CHECK_INT(0, tok_encoder_open(&enc, t));
        CHECK_INT(0, tok_encode(enc, 1, "abc", 3, &ids));
        CHECK(ids.n == 2 && ids.ids[0] == 97 && ids.ids[1] == 256, "abc -> %zu tokens", ids.n);
        tok_ids_free(&ids);
        tok_encoder_close(&enc);
        const char *out = tmp_path("improper.tiktoken");
        unlink(out);
        CHECK_INT(TOK_EINVAL, tok_export(t, 1, TOK_FORMAT_TIKTOKEN, out, &e));
        CHECK(strstr(e.msg, "token 258 'abc' is not what its own bytes encode to at level 1 "
                            "(2 tokens: 97 'a', 256 'bc')"),
              "message: %s", e.msg);
        CHECK(access(out, F_OK) != 0, "a refused export leaves no file");
        /* a merge list says it exactly, and level 0 is always fine */
        CHECK_INT(0, tok_export_check(t, 1, TOK_FORMAT_HF, &e));
        CHECK_INT(0, tok_export_check(t, 0, TOK_FORMAT_TIKTOKEN, &e));
        tok_close(&t);
    }

    /* a rank file whose "abc" no two tokens of lower rank make: tiktoken reaches it only as a
     * whole pre-token, which a merge list cannot say */
    const char *ranks = tmp_path("unreachable.tiktoken");
    FILE *f = fopen(ranks, "w");
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int b = 0; b < 256; b++)
        fprintf(f, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
    fprintf(f, "YWJj 256\nYWI= 257\n"); /* "abc", then "ab" */
    fclose(f);
    CHECK_INT(0, tok_import_tiktoken(&t, ranks, "gpt2", &e));
    if (t) {
        CHECK_INT(TOK_EINVAL, tok_export_check(t, 1, TOK_FORMAT_HF, &e));
        CHECK(strstr(e.msg, "token 256 'abc' is not made by tiktoken from two tokens of lower "
                            "rank (its bytes end as 3 tokens)"),
              "message: %s", e.msg);
        CHECK_INT(0, tok_export_check(t, 1, TOK_FORMAT_TIKTOKEN, &e));
        tok_close(&t);
    }
    /* once "ab" comes first, "abc" is ("ab", "c") and the export goes through */
    f = fopen(ranks, "w");
    for (int b = 0; b < 256; b++)
        fprintf(f, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
    fprintf(f, "YWI= 256\nYWJj 257\n");
    fclose(f);
    CHECK_INT(0, tok_import_tiktoken(&t, ranks, "gpt2", &e));
    if (t) {
        const char *json = tmp_path("ab.json");
        CHECK_INT(0, tok_export(t, 1, TOK_FORMAT_HF, json, &e));
        size_t n;
        char *p = slurp(json, &n);
        CHECK(p && strstr(p, "\"merges\": [\n      \"a b\",\n      \"ab c\"\n    ]"),
              "merges of ab.json: %s", p ? strstr(p, "\"merges\"") : "(unreadable)");
        free(p);
        tok_close(&t);
    }
}

/* A trained pyramid: the tokenizer.json holds the level's tokens and merges in rank order
 * (byte-level strings, escaped), the rank file holds the level and imports back to the same
 * encoding; bad levels and superword levels are refused. */
static void test_files(void)
{
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.pretok = "gpt2";
    s.nlevels = 2;
    s.levels[0] = 300;
    s.levels[1] = 500;
    s.superword = 600;
    char path[4096];
    snprintf(path, sizeof path, "%s/prose/kjv.txt", data_dir);
    size_t n;
    char *text = slurp(path, &n);
    CHECK(text != NULL, "read %s", path);
    if (!text)
        return;
    n = 200000;
    const void *texts[] = {text};
    tok *t = NULL, *back = NULL;
    tok_err e = {0};
    CHECK_INT(0, tok_train_buffers(&t, &s, texts, &n, 1, &e));
    if (!t)
        return;
    CHECK_INT(TOK_ERANGE, tok_export_check(t, 4, TOK_FORMAT_HF, &e));
    CHECK_INT(TOK_ERANGE, tok_export_check(t, -1, TOK_FORMAT_TIKTOKEN, &e));
    CHECK_INT(TOK_EINVAL, tok_export_check(t, 1, (tok_format)7, &e));
    CHECK_INT(TOK_EINVAL, tok_export_check(t, 3, TOK_FORMAT_HF, &e));
    CHECK(strstr(e.msg, "level 3 is a superword level"), "message: %s", e.msg);
    tok_format fmt;
    CHECK_INT(0, tok_format_parse("tiktoken", &fmt));
    CHECK_INT(TOK_FORMAT_TIKTOKEN, fmt);
    CHECK_INT(TOK_EINVAL, tok_format_parse("spm", &fmt));
    CHECK_STR("hf", tok_format_name(TOK_FORMAT_HF));

    const char *json = tmp_path("p.json"), *ranks = tmp_path("p.tiktoken");
    CHECK_INT(0, tok_export(t, 2, TOK_FORMAT_HF, json, &e));
    CHECK_INT(0, tok_export(t, 2, TOK_FORMAT_TIKTOKEN, ranks, &e));
    size_t jn;
    char *j = slurp(json, &jn);
    CHECK(j != NULL, "read %s", json);
    if (j) {
        /* byte 0 is U+0100, space is U+0120 (Ġ), '"' and '\' are escaped */
        CHECK(strstr(j, "\n      \"\xc4\x80\": 0,"), "byte 0 as U+0100");
        CHECK(strstr(j, "\n      \"\xc4\xa0\": 32,"), "space as U+0120");
        CHECK(strstr(j, "\n      \"\\\"\": 34,"), "a quote, escaped");
        CHECK(strstr(j, "\n      \"\\\\\": 92,"), "a backslash, escaped");
        int32_t l, r;
        size_t lb, rb;
        tok_token_parts(t, 256, &l, &r);
        const uint8_t *lp = tok_token_bytes(t, l, &lb), *rp = tok_token_bytes(t, r, &rb);
        char first[64];
        snprintf(first, sizeof first, "\"merges\": [\n      \"%s%.*s %.*s\"",
                 lp[0] == ' ' ? "\xc4\xa0" : "", (int)(lb - (lp[0] == ' ')),
                 (const char *)lp + (lp[0] == ' '), (int)rb, (const char *)rp);
        CHECK(strstr(j, first), "the first merge: %s", first);
        /* 500 tokens, 244 merges */
        size_t nm = 0;
        for (const char *q = strstr(j, "\"merges\""); q && (q = strstr(q + 1, "\",\n")); nm++)
            ;
        CHECK_INT(500 - 256 - 1, nm);
        CHECK(strstr(j, "\": 499\n    },"), "the last token of the level");
        free(j);
    }
    CHECK_INT(0, tok_import_tiktoken(&back, ranks, "gpt2", &e));
    CHECK_INT(500, back ? tok_ntokens(back) : 0);
    if (back) {
        tok_ids a = {0}, b = {0};
        CHECK_INT(0, tok_encode_parallel(t, 2, text + 200000, 300000, 1, &a));
        CHECK_INT(0, tok_encode_parallel(back, 1, text + 200000, 300000, 1, &b));
        CHECK(a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids),
              "the rank file imported back encodes differently (%zu, %zu tokens)", a.n, b.n);
        tok_ids_free(&a);
        tok_ids_free(&b);
        tok_close(&back);
    }
    /* an unwritable path fails with TOK_EIO and leaves nothing */
    CHECK_INT(TOK_EIO, tok_export(t, 1, TOK_FORMAT_HF, "/nonexistent-dir/x.json", &e));
    tok_close(&t);
    free(text);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_export DATA_DIR TMP_DIR\n");
        return 2;
    }
    data_dir = argv[1];
    tmp_dir = argv[2];
    test_refusals();
    test_files();
    printf("%d passed, %d failed\n", check_count - check_failures, check_failures);
    return check_failures != 0;
}
