/* libmask tests: bad input. Rule files (FILE:LINE: and PCRE2's message), K too small, t out
 * of [0, 1], bad weights, unknown names, inconsistent sequences and settings. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "check.h"
#include "fixture.h"

static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "temp file %s",
          path);
    if (fd >= 0)
        close(fd);
}

static void check_rule_files(void)
{
    static const struct {
        mask_rules_kind kind;
        const char *text;
        const char *msg;
    } bad[] = {
        {MASK_RULES_IMPORTANCE, "# ok\n1 abc\n3 (unclosed\n",
         ":3: pattern error at offset 9: "
         "missing closing parenthesis"},
        {MASK_RULES_IMPORTANCE, "-1 foo\n", ":1: weight '-1' is not a finite number >= 0"},
        {MASK_RULES_IMPORTANCE, "\n\nnan foo\n", ":3: weight 'nan' is not a finite number"},
        {MASK_RULES_IMPORTANCE, "1e39 foo\n", ":1: weight '1e39' is not a finite number"},
        {MASK_RULES_IMPORTANCE, "default 1e39\n", ":1: default weight '1e39'"},
        {MASK_RULES_IMPORTANCE, "2\n", ":1: missing pattern after '2'"},
        {MASK_RULES_IMPORTANCE, "default x\n", ":1: default weight 'x'"},
        {MASK_RULES_CLASS, "9lives \\d+\n", ":1: bad class name '9lives'"},
        {MASK_RULES_CLASS, "word \\w+\nword \\d+\n", ":2: class 'word' defined twice"},
        {MASK_RULES_CLASS, "# nothing\n", ": no class rules"},
        {MASK_RULES_CLASS, "x [a-\n", ":1: pattern error at offset"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[] = "/tmp/mask-bad-rules-XXXXXX";
        write_file(path, bad[i].text);
        int n = -1, rc = mask_rules_check(path, bad[i].kind, &n, err, sizeof err);
        CHECK(rc == MASK_E_RULES && strncmp(err, path, strlen(path)) == 0 &&
                  strstr(err, bad[i].msg),
              "rules %zu: expected MASK_E_RULES with '%s', got %d '%s'", i, bad[i].msg, rc,
              err);
        CHECK_INT(0, n);
        unlink(path);
    }
    CHECK_INT(MASK_E_IO,
              mask_rules_check("/nonexistent/rules", MASK_RULES_CLASS, NULL, err, sizeof err));
    CHECK(strstr(err, "/nonexistent/rules: No such file"), "message: %s", err);

    /* through mask_open: the handle carries the message */
    char path[] = "/tmp/mask-bad-classes-XXXXXX";
    write_file(path, "word \\p{L}+\nnum (?<=\\d+)x\n");
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 10;
    s.types = MASK_TYPES_CLASS;
    s.class_rules = path;
    mask *m = NULL;
    CHECK_INT(MASK_E_RULES, mask_open(&m, &s));
    CHECK(strstr(mask_errmsg(m), ":2: pattern error at offset"), "message: %s", mask_errmsg(m));
    mask_close(&m);
    unlink(path);
}

static int open_rc(mask_settings *s, const char *msg)
{
    mask *m = NULL;
    int rc = mask_open(&m, s);
    CHECK(rc == 0 || strstr(mask_errmsg(m), msg), "expected a message with '%s', got '%s'", msg,
          mask_errmsg(m));
    mask_close(&m);
    CHECK(m == NULL, "mask_close must reset the pointer");
    return rc;
}

static void check_settings(void)
{
    mask_settings s;
    mask_default_settings(&s);
    CHECK_INT(MASK_E_RANGE, open_rc(&s, "vocab_size = 0"));
    s.vocab_size = 100;
    s.types = MASK_TYPES_CLASS;
    s.n_types = 3;
    CHECK_INT(MASK_E_K,
              open_rc(&s, "mask type policy 'class' needs K >= 6 mask types, got K = 3"));
    s.types = MASK_TYPES_LEVEL;
    s.n_levels = 3;
    CHECK_INT(MASK_E_K, open_rc(&s, "needs K >= 4"));
    s.n_types = 4;
    CHECK_INT(0, open_rc(&s, ""));
    s.n_types = 0;
    s.types = MASK_TYPES_SINGLE;
    s.schedule = "cosinus";
    CHECK_INT(MASK_E_NAME, open_rc(&s, "unknown schedule 'cosinus'"));
    s.schedule = "linear";
    s.structure = MASK_STRUCT_UNIT;
    CHECK_INT(MASK_E_RANGE, open_rc(&s, "needs unit_level in 1..3"));
    s.structure = MASK_STRUCT_SPAN;
    s.span_p = 0;
    CHECK_INT(MASK_E_RANGE, open_rc(&s, "span_p = 0"));
    s.span_p = 0.2;
    s.structure = MASK_STRUCT_BLOCK;
    s.block_size = 0;
    CHECK_INT(MASK_E_RANGE, open_rc(&s, "block_size = 0"));
    s.structure = MASK_STRUCT_REGEX;
    s.regex = "[unclosed";
    CHECK_INT(MASK_E_RULES, open_rc(&s, "regex units: pattern error at offset 9"));
    s.structure = (mask_structure)42;
    CHECK_INT(MASK_E_NAME, open_rc(&s, "unknown structure 42"));
    s.structure = MASK_STRUCT_TOKEN;
    s.importance = MASK_IMPORTANCE_RULES;
    CHECK_INT(MASK_E_ARG, open_rc(&s, "needs importance_rules"));
    s.importance = MASK_IMPORTANCE_NONE;
    s.prior_alpha = -1;
    CHECK_INT(MASK_E_RANGE, open_rc(&s, "prior_alpha"));
    CHECK_INT(MASK_E_ARG, mask_open(NULL, &s));
    mask_close(NULL);
}

static void check_names(void)
{
    char err[256];
    mask_structure st;
    mask_type_policy tp;
    mask_importance_source src;
    mask_importance_mode mode;
    mask_time_sampler ts;
    CHECK_INT(MASK_E_NAME, mask_structure_parse("spam", &st, err, sizeof err));
    CHECK(strcmp(err, "unknown structure 'spam' (token, span, unit, regex, block, response)") ==
              0,
          "message: %s", err);
    CHECK_INT(MASK_E_NAME, mask_type_policy_parse("kind", &tp, err, sizeof err));
    CHECK(strstr(err, "(single, level, class, length, importance)"), "message: %s", err);
    CHECK_INT(MASK_E_NAME, mask_importance_source_parse("tfidf", &src, err, sizeof err));
    CHECK_INT(MASK_E_NAME, mask_importance_mode_parse("on", &mode, NULL, 0));
    CHECK_INT(MASK_E_NAME, mask_time_sampler_parse(NULL, &ts, err, sizeof err));
    for (int i = 0; i < MASK_STRUCT_COUNT; i++) {
        CHECK_INT(0, mask_structure_parse(mask_structure_name(i), &st, NULL, 0));
        CHECK_INT(i, st);
    }
    for (int i = 0; i < MASK_TYPES_COUNT; i++) {
        CHECK_INT(0, mask_type_policy_parse(mask_type_policy_name(i), &tp, NULL, 0));
        CHECK_INT(i, tp);
    }
    for (int i = 0; i < MASK_IMPORTANCE_COUNT; i++) {
        CHECK_INT(0,
                  mask_importance_source_parse(mask_importance_source_name(i), &src, NULL, 0));
        CHECK_INT(i, src);
    }
    for (int i = 0; i < MASK_IMPORTANCE_MODE_COUNT; i++) {
        CHECK_INT(0, mask_importance_mode_parse(mask_importance_mode_name(i), &mode, NULL, 0));
        CHECK_INT(i, mode);
    }
    for (int i = 0; i < MASK_TIME_COUNT; i++) {
        CHECK_INT(0, mask_time_sampler_parse(mask_time_sampler_name(i), &ts, NULL, 0));
        CHECK_INT(i, ts);
    }
    CHECK(mask_structure_name(MASK_STRUCT_COUNT) == NULL, "name past the end");
    for (int rc = 0; rc >= -12; rc--)
        CHECK(mask_strerror(rc) != NULL, "strerror(%d)", rc);
    CHECK(strcmp(mask_strerror(-99), "unknown error code") == 0, "%s", mask_strerror(-99));
}

static void check_bad_sequences(void)
{
    fixture f;
    fixture_build(&f, 40, 4, 100);
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 100;
    s.structure = MASK_STRUCT_UNIT;
    s.n_levels = 2;
    s.unit_level = 1;
    s.types = MASK_TYPES_CLASS;
    mask *m = NULL;
    CHECK_INT(0, mask_open(&m, &s));
    int n = f.n;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    uint8_t *masked = malloc((size_t)n);
    float *weight = malloc((size_t)n * sizeof *weight);
    mask_out out = {ids, masked, weight, NULL, 0, NULL, NULL};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    const double bad_t[] = {-0.1, 1.5, NAN};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(MASK_E_RANGE, mask_corrupt(m, &f.seq, bad_t[i], r, &out));
        CHECK(strstr(mask_errmsg(m), "is outside [0, 1]"), "message: %s", mask_errmsg(m));
    }
    CHECK_INT(0, mask_corrupt(m, &f.seq, 0.5, r, &out));

    f.ids[3] = 100;
    CHECK_INT(MASK_E_INPUT, mask_corrupt(m, &f.seq, 0.5, r, &out));
    CHECK(strstr(mask_errmsg(m), "token 3 has id 100 outside [0, 100)"), "%s", mask_errmsg(m));
    f.ids[3] = 1;
    int32_t keep = f.lvl1[5];
    f.lvl1[5] = -1;
    CHECK_INT(MASK_E_INPUT, mask_corrupt(m, &f.seq, 0.5, r, &out));
    CHECK(strstr(mask_errmsg(m), "contiguous runs"), "%s", mask_errmsg(m));
    f.lvl1[5] = keep;
    keep = f.offsets[4];
    f.offsets[4] = f.offsets[3];
    CHECK_INT(MASK_E_INPUT, mask_corrupt(m, &f.seq, 0.5, r, &out));
    CHECK(strstr(mask_errmsg(m), "offset of token 4"), "%s", mask_errmsg(m));
    f.offsets[4] = keep;
    mask_seq seq = f.seq;
    seq.n_levels = 0;
    CHECK_INT(MASK_E_INPUT, mask_corrupt(m, &seq, 0.5, r, &out));
    CHECK(strstr(mask_errmsg(m), "gives 0 coarser levels, 1 needed"), "%s", mask_errmsg(m));
    seq = f.seq;
    seq.prompt_len = n + 1;
    CHECK_INT(MASK_E_INPUT, mask_corrupt(m, &seq, 0.5, r, &out));
    seq = f.seq;
    seq.text = NULL;
    CHECK_INT(MASK_E_INPUT, mask_corrupt(m, &seq, 0.5, r, &out));
    CHECK_INT(MASK_E_ARG, mask_corrupt(m, NULL, 0.5, r, &out));
    mask_close(&m);

    /* negative and NaN importance */
    mask_default_settings(&s);
    s.vocab_size = 100;
    s.importance_mode = MASK_IMPORTANCE_WEIGHT_LOSS;
    CHECK_INT(0, mask_open(&m, &s));
    float *imp = calloc((size_t)n, sizeof *imp);
    seq = f.seq;
    seq.importance = imp;
    imp[2] = -1;
    CHECK_INT(MASK_E_WEIGHT, mask_corrupt(m, &seq, 0.5, r, &out));
    CHECK(strstr(mask_errmsg(m), "importance of token 2 has weight -1"), "%s", mask_errmsg(m));
    imp[2] = NAN;
    CHECK_INT(MASK_E_WEIGHT, mask_corrupt(m, &seq, 0.5, r, &out));
    imp[2] = 1;
    CHECK_INT(0, mask_corrupt(m, &seq, 0.5, r, &out));
    double a[2] = {1, -2}, p[2];
    CHECK_INT(MASK_E_WEIGHT, mask_bent_schedule(m, a, NULL, 2, 0.5, p, NULL));
    a[1] = 1;
    CHECK_INT(MASK_E_RANGE, mask_bent_schedule(m, a, NULL, 2, 1.01, p, NULL));
    mask_close(&m);
    free(imp), free(ids), free(masked), free(weight);
    gsl_rng_free(r);
    fixture_free(&f);
}

/* mask_errmsg always answers: each failing call records its code with a message, the next call
 * clears it, and with no message the code's name stands in ("ok" after a success). */
static void check_errmsg(void)
{
    fixture f;
    fixture_build(&f, 10, 3, 50);
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 50;
    s.importance = MASK_IMPORTANCE_IDF;
    s.importance_mode = MASK_IMPORTANCE_WEIGHT_LOSS;
    mask *m = NULL;
    CHECK_INT(0, mask_open(&m, &s));
    CHECK_STR("ok", mask_errmsg(m));
    int n = f.n;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    uint8_t *masked = malloc((size_t)n);
    float *weight = malloc((size_t)n * sizeof *weight), logp[3 * 50];
    mask_out out = {ids, masked, weight, NULL, 0, NULL, NULL};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    int units[64], nu = 0;
    double a[2] = {1, 1}, p[2];
    /* every entry point that returns a code, failing: a message of its own, never "" */
#define FAILS(call, msg)                              \
    do {                                              \
        int rc_ = (call);                             \
        CHECK(rc_ < 0 && strstr(mask_errmsg(m), msg), \
              "%s: expected a failure reading '%s', " \
              "got %d '%s'",                          \
              #call, msg, rc_, mask_errmsg(m));       \
    } while (0)
    FAILS(mask_corrupt(m, &f.seq, 0.5, r, &out), "needs corpus statistics");
    FAILS(mask_corrupt(m, &f.seq, 2, r, &out), "t = 2 is outside");
    FAILS(mask_corrupt(m, NULL, 0.5, r, &out), "NULL argument");
    FAILS(mask_corrupt_batch(m, &f.seq, 1, 0, r, &out), "sequence 0: importance 'idf'");
    FAILS(mask_corrupt_batch(m, NULL, 1, 0, r, &out), "bad arguments");
    FAILS(mask_units(m, NULL, r, units, &nu), "units: NULL argument");
    FAILS(mask_importance(m, &f.seq, weight), "needs corpus statistics");
    FAILS(mask_importance(m, NULL, weight), "importance: NULL argument");
    FAILS(mask_bent_schedule(m, a, NULL, 2, -1, p, NULL), "t = -1 is outside");
    FAILS(mask_corpus_add(m, NULL, 3), "corpus: bad arguments");
    FAILS(mask_prior_add(m, NULL, r), "prior: NULL argument");
    FAILS(mask_prior_export(m, NULL), "prior: NULL argument");
#undef FAILS
    /* each failure replaces the last; a success clears it */
    CHECK_INT(MASK_E_RANGE, mask_corrupt(m, &f.seq, 2, r, &out));
    CHECK_INT(0, mask_prior_export(m, logp));
    CHECK_STR("ok", mask_errmsg(m));
    CHECK_INT(MASK_E_STATE, mask_importance(m, &f.seq, weight));
    CHECK_INT(0, mask_corpus_add(m, f.ids, n));
    CHECK_STR("ok", mask_errmsg(m));
    CHECK_INT(0, mask_corrupt(m, &f.seq, 0.5, r, &out));
    CHECK_STR("ok", mask_errmsg(m));
    CHECK_INT(0, mask_units(m, &f.seq, r, units, &nu));
    CHECK_INT(MASK_E_RANGE, mask_bent_schedule(m, a, NULL, 2, -1, p, NULL));
    CHECK_INT(0, mask_bent_schedule(m, a, NULL, 2, 0.5, p, NULL));
    CHECK_STR("ok", mask_errmsg(m));
    mask_close(&m);
    CHECK_STR("no handle (out of memory)", mask_errmsg(NULL));
    /* the parsers without a handle answer in err */
    char err[128] = "stale";
    mask_schedule sch;
    CHECK_INT(MASK_E_ARG, mask_schedule_parse(NULL, "linear", err, sizeof err));
    CHECK(strstr(err, "no output given"), "message: %s", err);
    strcpy(err, "stale");
    CHECK_INT(MASK_E_ARG, mask_curriculum_parse(NULL, "linear", err, sizeof err));
    CHECK(strstr(err, "no output given"), "message: %s", err);
    CHECK_INT(MASK_E_ARG, mask_schedule_parse(&sch, NULL, err, sizeof err));
    CHECK(strstr(err, "no string given"), "message: %s", err);
    free(ids), free(masked), free(weight);
    gsl_rng_free(r);
    fixture_free(&f);
}

void test_errors(void)
{
    check_errmsg();
    check_rule_files();
    check_settings();
    check_names();
    check_bad_sequences();
}
