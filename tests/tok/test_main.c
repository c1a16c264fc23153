/* test_main.c: libtok's unit test program: shared data and pyramids, then every test file;
 * usage: test_tok DATA_DIR FIXTURE_DIR TMP_DIR. Ends with "N passed, M failed". */
#include "test_tok.h"

#include <stdlib.h>
#include <string.h>

int check_count, check_failures;
const char *data_dir, *fixture_dir, *tmp_dir;

blob read_blob(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    blob b = {0};
    size_t cap = 1 << 20;
    b.p = malloc(cap);
    size_t r;
    while (b.p && (r = fread(b.p + b.n, 1, cap - b.n, f)) > 0) {
        b.n += r;
        if (b.n == cap)
            b.p = realloc(b.p, cap *= 2);
    }
    fclose(f);
    if (!b.p)
        exit(1);
    return b;
}

blob data_file(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    return read_blob(path);
}

void free_blob(blob *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

/* xorshift: tests need reproducible bytes, not statistical quality */
static unsigned long long rng_next(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

blob random_bytes(unsigned seed, size_t n, int kind)
{
    static const char *pieces[] = {
        "the",    " ",      "  ",   "\n",       "\n\n",         "\t",  "é",    "中文",
        "🙂",   "\xff",   "\x80", "\xe2\x82", "\0",           "123", "4567", "'s",
        " don't", "x=y+1;", "\r\n", "\xc2\xa0", "\xe1\xa0\x8e", "A"};
    unsigned long long s = 0x9e3779b97f4a7c15ULL ^ seed;
    blob b = {malloc(n ? n : 1), n};
    size_t i = 0;
    while (i < n) {
        if (kind == 0) {
            b.p[i++] = (unsigned char)rng_next(&s);
            continue;
        }
        const char *p = pieces[rng_next(&s) % (sizeof pieces / sizeof *pieces)];
        size_t len = p[0] ? strlen(p) : 1;
        for (size_t k = 0; k < len && i < n; k++)
            b.p[i++] = (unsigned char)p[k];
    }
    return b;
}

static tok *prose_tok, *code_tok;
static blob prose, code;

blob prose_text(void)
{
    return prose;
}
blob code_text(void)
{
    return code;
}

static tok *train_on(blob text, const char *pretok, const int *levels, int nlevels, int sup)
{
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.pretok = pretok;
    s.nlevels = nlevels;
    for (int k = 0; k < nlevels; k++)
        s.levels[k] = levels[k];
    s.superword = sup;
    s.nthreads = 2;
    const void *texts[] = {text.p};
    size_t lens[] = {text.n};
    tok *t = NULL;
    tok_err e = {0};
    int rc = tok_train_buffers(&t, &s, texts, lens, 1, &e);
    if (rc) {
        fprintf(stderr, "training failed: %s\n", e.msg);
        exit(1);
    }
    return t;
}

const tok *prose_pyramid(void)
{
    static const int levels[] = {300, 1000, 3000};
    if (!prose_tok)
        prose_tok = train_on(prose, "cl100k", levels, 3, 5000);
    return prose_tok;
}

const tok *code_pyramid(void)
{
    static const int levels[] = {400, 2000};
    if (!code_tok)
        code_tok = train_on(code, "code", levels, 2, 3000);
    return code_tok;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_tok DATA_DIR FIXTURE_DIR TMP_DIR\n");
        return 2;
    }
    data_dir = argv[1];
    fixture_dir = argv[2];
    tmp_dir = argv[3];
    prose = data_file("prose/kjv.txt");
    code = data_file("code/python-stdlib.txt");
    prose.n = 500000; /* slices keep the suite fast, under sanitizers too */
    code.n = 400000;
    static const struct {
        const char *name;
        void (*run)(void);
    } tests[] = {{"pretok", test_pretok}, {"encode", test_encode},  {"align", test_align},
                 {"train", test_train},   {"files", test_files},    {"tiktoken", test_tiktoken},
                 {"errors", test_errors}, {"coarsen", test_coarsen}};
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
        if (argc > 4 && strcmp(argv[4], tests[i].name))
            continue;
        int before = check_failures, checks = check_count;
        tests[i].run();
        int bad = check_failures - before;
        printf("%-10s %s (%d checks, %d failed)\n", tests[i].name, bad ? "FAIL" : "ok",
               check_count - checks, bad);
        bad ? failed++ : passed++;
    }
    tok_close(&prose_tok);
    tok_close(&code_tok);
    free_blob(&prose);
    free_blob(&code);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
