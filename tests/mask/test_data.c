/* libmask tests: the rule files shipped in data/importance compile and give the weights and
 * classes their comments promise on small snippets. */
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "check.h"
#include "fixture.h"

/* "def area(r): return 3.14 * r" cut into tokens */
static const char code[] = "def area(r): return 3 * r  # doc";
static const int32_t code_off[] = {0, 3, 8, 9, 10, 12, 19, 21, 23, 25, 27};
enum { CODE_N = 11 };

static void path_of(char *out, size_t len, const char *dir, const char *file)
{
    snprintf(out, len, "%s/importance/%s", dir, file);
}

static void check_code_rules(const char *dir)
{
    char path[1024];
    path_of(path, sizeof path, dir, "code.rules");
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 10;
    s.importance = MASK_IMPORTANCE_RULES;
    s.importance_rules = path;
    mask *m = open_checked(&s);
    if (!m)
        return;
    int32_t ids[CODE_N] = {0};
    mask_seq seq = {
        .ids = ids, .n = CODE_N, .text = code, .text_len = strlen(code), .offsets = code_off};
    float a[CODE_N];
    CHECK_INT(0, mask_importance(m, &seq, a));
    /* def, " area", "(", "r", "):", " return", " 3", " *", " r", "  ", "# doc" */
    const float want[CODE_N] = {0.5f, 2, 0.5f, 2, 0.5f, 0.5f, 2, 0.5f, 2, 0.2f, 0.3f};
    for (int i = 0; i < CODE_N; i++)
        CHECK_NEAR(want[i], a[i], 0);
    mask_close(&m);
}

static void check_class_rules(const char *dir)
{
    char path[1024];
    path_of(path, sizeof path, dir, "classes-code.rules");
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = 10;
    s.types = MASK_TYPES_CLASS;
    s.class_rules = path;
    mask *m = open_checked(&s);
    if (!m)
        return;
    CHECK_INT(8, mask_n_types(m));
    int32_t ids[CODE_N] = {0}, out_ids[CODE_N];
    uint8_t masked[CODE_N];
    float weight[CODE_N];
    int8_t type[CODE_N];
    mask_seq seq = {
        .ids = ids, .n = CODE_N, .text = code, .text_len = strlen(code), .offsets = code_off};
    mask_out out = {out_ids, masked, weight, type, 0, NULL, NULL};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    CHECK_INT(0, mask_corrupt(m, &seq, 1.0, r, &out));
    const char *want[CODE_N] = {"keyword",    "identifier", "operator", "identifier",
                                "operator",   "keyword",    "number",   "operator",
                                "identifier", "space",      "comment"};
    for (int i = 0; i < CODE_N; i++)
        CHECK(strcmp(mask_type_name(m, type[i]), want[i]) == 0, "token %d: %s, expected %s", i,
              mask_type_name(m, type[i]), want[i]);
    gsl_rng_free(r);
    mask_close(&m);
    const char *others[] = {"prose.rules", "classes-prose.rules"};
    for (int i = 0; i < 2; i++) {
        char err[512];
        int n = 0;
        path_of(path, sizeof path, dir, others[i]);
        int rc = mask_rules_check(path, i ? MASK_RULES_CLASS : MASK_RULES_IMPORTANCE, &n, err,
                                  sizeof err);
        CHECK(rc == 0 && n >= 5, "%s: %d rules, %s", path, n, rc ? err : "ok");
    }
}

void test_data(void)
{
    const char *dir = getenv("MASK_DATA_DIR");
    if (!dir) {
        fprintf(stderr, "test_data: MASK_DATA_DIR is not set\n");
        check_failures++;
        return;
    }
    check_code_rules(dir);
    check_class_rules(dir);
}
