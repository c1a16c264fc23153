/* test_pretok.c: the pre-tokenizer: the ASCII shortcuts of the gpt2, cl100k and o200k presets
 * split exactly as PCRE2 alone does, on real text and on dense random mixes of hard cases. */
#include "test_tok.h"
#include "tok_impl.h"

#include <stdlib.h>
#include <string.h>

/* Random text made of the pieces the shortcuts must get right, and some they must refuse. */
static blob soup(unsigned seed, size_t n)
{
    static const char *parts[] = {"a",
                                  "Z",
                                  "word",
                                  "Word",
                                  "WORD",
                                  "camelCase",
                                  "HTTPServer",
                                  "x1",
                                  "7",
                                  "42",
                                  "1234",
                                  "98765",
                                  " ",
                                  "  ",
                                  "   ",
                                  "\t",
                                  "\n",
                                  "\n\n",
                                  "\r\n",
                                  " \n",
                                  "\t\n  ",
                                  ".",
                                  ",",
                                  "'",
                                  "'s",
                                  "'S",
                                  "'ll",
                                  "'RE",
                                  "'t",
                                  "/",
                                  "//",
                                  "./",
                                  ".\n/",
                                  "(",
                                  ")",
                                  "{}",
                                  "->",
                                  "==",
                                  "\"",
                                  "#",
                                  "_",
                                  "$1",
                                  "é",
                                  "ñA",
                                  "\xc2\xa0",
                                  "\xe1\xa0\x8e",
                                  "\xe3\x80\x80",
                                  "e\xcc\x81",
                                  "\xe2\x84\xaa",
                                  "\xff",
                                  "\x80",
                                  "\0",
                                  "\v",
                                  "\f",
                                  "\xef\xbb\xbf",
                                  "\xd9\xa3"};
    unsigned long long s = 0x2545F4914F6CDD1DULL ^ seed;
    blob b = {malloc(n), n};
    size_t i = 0;
    while (i < n) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        const char *p = parts[s % (sizeof parts / sizeof *parts)];
        size_t len = p[0] ? strlen(p) : 1;
        for (size_t k = 0; k < len && i < n; k++)
            b.p[i++] = (unsigned char)p[k];
    }
    return b;
}

static void compare_splits(const char *preset, const blob *text, const char *what)
{
    char custom[4096];
    snprintf(custom, sizeof custom, "(?:)%s", tok_preset_pattern(preset));
    pretok *fast, *slow;
    pretok_matcher *mf, *ms;
    CHECK_INT(0, tok_pretok_compile(&fast, preset, NULL));
    CHECK_INT(0, tok_pretok_compile(&slow, custom, NULL));
    tok_pretok_matcher_open(&mf, fast);
    tok_pretok_matcher_open(&ms, slow);
    pretok_iter a = {0}, b = {0};
    size_t as, ae, bs, be, k = 0;
    for (;; k++) {
        bool x = tok_pretok_next(mf, text->p, text->n, &a, &as, &ae);
        bool y = tok_pretok_next(ms, text->p, text->n, &b, &bs, &be);
        if (x != y || (x && (as != bs || ae != be))) {
            size_t at = x ? as : bs;
            CHECK(0,
                  "%s on %s: piece %zu: shortcut [%zu, %zu), PCRE2 [%zu, %zu); text there: "
                  "'%.*s'",
                  preset, what, k, as, ae, bs, be, (int)(text->n - at < 24 ? text->n - at : 24),
                  (const char *)text->p + at);
            break;
        }
        if (!x)
            break;
    }
    tok_pretok_matcher_close(&mf);
    tok_pretok_matcher_close(&ms);
    tok_pretok_free(&fast);
    tok_pretok_free(&slow);
}

void test_pretok(void)
{
    static const char *presets[] = {"gpt2", "cl100k", "o200k"};
    blob prose = prose_text(), code = code_text();
    blob fixture;
    char path[4096];
    snprintf(path, sizeof path, "%s/tiktoken/text.txt", fixture_dir);
    fixture = read_blob(path);
    for (int p = 0; p < 3; p++) {
        compare_splits(presets[p], &prose, "prose");
        compare_splits(presets[p], &code, "code");
        compare_splits(presets[p], &fixture, "the fixture text");
        for (unsigned seed = 1; seed <= 40; seed++) {
            blob s = soup(seed, 4000 + seed * 97);
            compare_splits(presets[p], &s, "random mixes");
            free_blob(&s);
        }
    }
    free_blob(&fixture);
}
