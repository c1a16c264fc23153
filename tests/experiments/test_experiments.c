/* test_experiments.c: unit tests of the harness's own parts: the config and its reference,
 * sweep expansion, document splitting, and the run log's schema, claims and views. */
#include "../check.h"
#include "config.h"
#include "corpus.h"
#include "runlog.h"
#include "sweep.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int check_count, check_failures;
static char dir[] = "/tmp/pyramask-test-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

/* The error of loading `text` as a config file, "" if none. */
static const char *load_error(const char *text)
{
    static char err[CONFIG_ERR_MAX];
    struct config *c = config_new();
    err[0] = 0;
    if (config_load(c, write_file("c.ini", text), NULL, NULL, err) == 0)
        config_finish(c, err); /* sets err on failure */
    config_free(&c);
    return err;
}

static void test_reference(void)
{
    struct config *c = config_new();
    CHECK(c != NULL, "expected the embedded reference.ini to load, got: %s",
          config_reference_error());
    if (!c)
        return;
    /* the binary's reference and the file in the tree are the same keys and defaults */
    struct config *f = config_new();
    char err[CONFIG_ERR_MAX] = "";
    int rc = config_load(f, REFERENCE_INI, NULL, NULL, err);
    CHECK(rc == 0, "expected %s to load as a config, got: %s", REFERENCE_INI, err);
    for (int k = 0; k < config_nkeys(); k++) {
        CHECK(strlen(config_key_doc(k)) > 10, "expected a doc line for %s, got '%s'",
              config_key_name(k), config_key_doc(k));
        CHECK(!strcmp(config_value(c, k), config_value(f, k)), "%s: default '%s' vs file '%s'",
              config_key_name(k), config_value(c, k), config_value(f, k));
        CHECK(f && strstr(config_where(f, k), "reference.ini:"),
              "expected %s to be set in reference.ini, got %s", config_key_name(k),
              config_where(f, k));
    }
    config_free(&f);
    config_free(&c);
}

static void test_errors(void)
{
    const char *e = load_error("[model]\nd = 64\nbogus = 1\n");
    CHECK(strstr(e, "c.ini:3: unknown key 'model.bogus'"), "got '%s'", e);
    /* the score's estimator: replicates divide the draws; a full-range schedule; a density */
    e = load_error("[score]\nreplicates = 3\n");
    CHECK(strstr(e, "c.ini:2: score.replicates: 3 must divide score.t_samples = 4"), "got '%s'",
          e);
    e = load_error("[score]\nt_samples = 6\nreplicates = 3\n");
    CHECK(!*e, "got '%s'", e);
    e = load_error("[score]\nschedule = loglinear\n");
    CHECK(strstr(e, "c.ini:2: score.schedule: 'loglinear' does not integrate"), "got '%s'", e);
    e = load_error("[score]\nschedule = cosine[0.1,1]\n");
    CHECK(strstr(e, "c.ini:2: score.schedule: 'cosine[0.1,1]' does not integrate"), "got '%s'",
          e);
    e = load_error("[score]\nschedule = spam\n");
    CHECK(strstr(e, "c.ini:2: score.schedule: schedule 'spam': unknown schedule"), "got '%s'",
          e);
    e = load_error("[score]\nschedule = poly:3\ntime_density = uniform\n");
    CHECK(!*e, "got '%s'", e);
    const char *bad[] = {"sqrt:0", "sqrt:", "sqrt:2x", "cube:2", "sqrt:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[64];
        snprintf(text, sizeof text, "[score]\ntime_density = %s\n", bad[i]);
        e = load_error(text);
        CHECK(strstr(e, "c.ini:2: score.time_density:"), "%s: got '%s'", bad[i], e);
    }
    e = load_error("[nosuch]\nx = 1\n");
    CHECK(strstr(e, "c.ini:2: unknown key 'nosuch.x'"), "got '%s'", e);
    e = load_error("[train]\n\nsteps = many\n");
    CHECK(strstr(e, "c.ini:3: train.steps: 'many' is not an integer"), "got '%s'", e);
    e = load_error("[mask]\nstructure = spam\n");
    CHECK(strstr(e, "c.ini:2: mask.structure: unknown value 'spam'"), "got '%s'", e);
    e = load_error("[train]\nlr = nan\n");
    CHECK(strstr(e, "c.ini:2: train.lr"), "got '%s'", e);
    e = load_error("[train]\nsteps = 1\nsteps = 2\n");
    CHECK(strstr(e, "c.ini:3: train.steps is set twice (first at line 2)"), "got '%s'", e);
    e = load_error("[model]\nd = 64\nheads = 3\n");
    CHECK(strstr(e, "c.ini:3: model.heads: 3 does not divide model.d = 64"), "got '%s'", e);
    e = load_error("[tokenizer]\nlevels = 512, 400\n");
    CHECK(strstr(e, "c.ini:2: tokenizer.levels: vocabulary sizes must increase"), "got '%s'",
          e);
    e = load_error("[data]\nthis line is not ini\n");
    CHECK(strstr(e, "c.ini:2: syntax error"), "got '%s'", e);
    e = load_error("[sweep]\nname = x\n");
    CHECK(strstr(e, "c.ini:2: a [sweep] section belongs in a sweep file"), "got '%s'", e);
    /* lines up to 4094 characters (a long regex, a factor of many levels), no longer */
    char line[5000] = "[mask]\nregex = ";
    size_t at = strlen(line);
    memset(line + at, 'a', 4094 - strlen("regex = "));
    line[at + 4094 - strlen("regex = ")] = 0;
    e = load_error(line);
    CHECK(!e[0], "a line of 4094 characters: got '%s'", e);
    strcat(line, "a\n");
    e = load_error(line);
    CHECK(strstr(e, "c.ini:2: line longer than 4094 characters"), "got '%s'", e);
    struct config *c = config_new();
    char err[CONFIG_ERR_MAX];
    CHECK(config_set_arg(c, "train.steps", err) == -1 && strstr(err, "section.key=value"),
          "got '%s'", err);
    CHECK(config_set_arg(c, "train.nope=3", err) == -1 && strstr(err, "--set: unknown key"),
          "got '%s'", err);
    CHECK(config_load(c, "/nonexistent/x.ini", NULL, NULL, err) == -2 &&
              strstr(err, "/nonexistent/x.ini: No such file"),
          "got '%s'", err);
    config_free(&c);
}

static void test_hash(void)
{
    struct config *a = config_new(), *b = config_new();
    char err[CONFIG_ERR_MAX], ha[17], hb[17];
    config_set_arg(a, "train.lr=1e-3", err);
    config_set_arg(b, "train.lr=0.001", err);
    config_set_arg(b, "train.seed=99", err);
    config_finish(a, err);
    config_finish(b, err);
    config_hash(a, ha);
    config_hash(b, hb);
    CHECK(!strcmp(ha, hb), "same config but the seed: expected equal hashes, got %s %s", ha,
          hb);
    CHECK(!strcmp(config_value(b, config_key_index("train.lr")), "0.001"), "canonical lr '%s'",
          config_value(b, config_key_index("train.lr")));
    config_set_arg(b, "train.lr=0.002", err);
    config_hash(b, hb);
    CHECK(strcmp(ha, hb), "different lr: expected different hashes, got %s twice", ha);
    /* the config text reads back to the same config */
    char *text = config_text(a, 1);
    struct config *c = config_new();
    CHECK(config_load_string(c, text, "text", err) == 0, "config_text reads back: %s", err);
    char hc[17];
    config_finish(c, err);
    config_hash(c, hc);
    CHECK(!strcmp(ha, hc), "round trip: expected %s, got %s", ha, hc);
    free(text);
    config_free(&a);
    config_free(&b);
    config_free(&c);
}

static void test_sweep(void)
{
    write_file("base.ini", "[train]\nsteps = 7\n[model]\nd = 32\n");
    const char *p = write_file("s.ini", "[model]\nd = 48\n[sweep]\nname = demo\nseeds = 1..3\n"
                                        "base = base.ini\nmask.structure = token, span\n"
                                        "tokenizer.levels = 300,400 | 300,500\n");
    struct sweep *s;
    char err[CONFIG_ERR_MAX] = "";
    int rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == 0, "sweep_load: %s", err);
    if (rc)
        return;
    CHECK(!strcmp(s->name, "demo") && s->nseeds == 3 && s->nfactors == 2,
          "name %s seeds %d factors %d", s->name, s->nseeds, s->nfactors);
    CHECK(sweep_ncells(s) == 12, "expected 12 cells, got %ld", sweep_ncells(s));
    struct config *c = sweep_cell(s, 11, err);
    const struct config_values *v = c ? config_values(c) : NULL;
    CHECK(v && v->train.steps == 7 && v->model.d == 48, "base then sweep file: steps %ld d %ld",
          v ? v->train.steps : -1, v ? v->model.d : -1);
    CHECK(v && !strcmp(v->mask.structure, "span") && v->tokenizer.levels[1] == 500 &&
              v->train.seed == 3,
          "last cell: %s %d seed %ld", v ? v->mask.structure : "",
          v ? v->tokenizer.levels[1] : 0, v ? v->train.seed : 0);
    config_free(&c);
    sweep_free(&s);
    char *sets[] = {"mask.structure=unit"};
    rc = sweep_load(&s, p, sets, 1, err);
    CHECK(rc == -1 && strstr(err, "is a factor of the sweep"), "got %d '%s'", rc, err);
    /* every combination is checked, the last one too (an outer factor changing under an
     * inner one that goes back to its first level) */
    p = write_file("rel.ini", "[sweep]\nseeds = 1, 2\nmodel.d = 48, 32\nmodel.heads = 3, 4\n");
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == -1 && strstr(err, "rel.ini:4: model.heads: 3 does not divide model.d = 32"),
          "got %d '%s'", rc, err);
    p = write_file("rel2.ini", "[sweep]\nseeds = 1, 2\nmodel.d = 48, 24\nmodel.heads = 3, 4\n");
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == 0 && sweep_ncells(s) == 8, "got %d '%s'", rc, err);
    for (long i = 0; rc == 0 && i < 8; i++) {
        struct config *cell = sweep_cell(s, i, err);
        CHECK(cell && config_values(cell)->model.d % config_values(cell)->model.heads == 0,
              "cell %ld: %s", i, cell ? "heads do not divide d" : err);
        config_free(&cell);
    }
    sweep_free(&s);
    /* the base need not be valid alone: only the cells run */
    p = write_file("base-alone.ini", "[model]\nd = 32\nheads = 3\n[sweep]\nmodel.d = 48, 96\n");
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == 0 && sweep_ncells(s) == 2, "an invalid base with valid cells: %d '%s'", rc,
          err);
    sweep_free(&s);
    char many[4200] = "[sweep]\ntrain.steps = 1";
    for (int i = 2; i <= 800; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), ",%d", i);
    p = write_file("many.ini", many);
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == 0 && sweep_ncells(s) == 800, "a factor of 800 levels on one line: %d '%s'", rc,
          err);
    sweep_free(&s);
    p = write_file("bad.ini", "[sweep]\nseeds = 1\nmask.structure = token, blob\n");
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == -1 && strstr(err, "bad.ini:3: mask.structure: unknown value 'blob'"),
          "got '%s'", err);
    p = write_file("bad2.ini", "[sweep]\nbase = missing.ini\n");
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == -2 && strstr(err, "bad2.ini:2: base:"), "got %d '%s'", rc, err);
    p = write_file("bad3.ini", "[sweep]\nsize = 3\n");
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == -1 && strstr(err, "bad3.ini:2: unknown [sweep] key 'size'"), "got '%s'", err);
    /* bounded grids: 10^5 cells at most, duplicate seeds found without a pairwise check */
    p = write_file("big.ini",
                   "[sweep]\nseeds = 1..1000\nmask.span_max = 1, 2, 3, 4, 5, 6, 7, 8, "
                   "9, 10\nmask.block = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10\n"
                   "mask.prompt = 0, 1\n");
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == -1 && strstr(err, "big.ini:5: mask.prompt: the sweep would have more than "
                                  "100000 cells"),
          "got %d '%s'", rc, err);
    char seeds[256] = "[sweep]\nseeds = 0..9999";
    for (int i = 1; i <= 10; i++)
        snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), ", %d..%d", i * 10000,
                 i * 10000 + 9999);
    p = write_file("seeds.ini", seeds);
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == -1 && strstr(err, "seeds.ini:2: seeds: more than 100000 seeds"), "got %d '%s'",
          rc, err);
    p = write_file("dup.ini", "[sweep]\nseeds = 9, 0..9999\n");
    rc = sweep_load(&s, p, NULL, 0, err);
    CHECK(rc == -1 && strstr(err, "dup.ini:2: seeds: 9 is listed twice"), "got %d '%s'", rc,
          err);
}

static void test_split(void)
{
    const char *prose = "a b\nc\n\n\nd e\n\nf\n";
    size_t *docs, n;
    char err[CONFIG_ERR_MAX];
    corpus_split(prose, strlen(prose), "blank", "", &docs, &n, err);
    CHECK(n == 3 && docs[0] == 0 && docs[2] == 8 && docs[4] == 13, "blank: %zu docs", n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += docs[2 * i + 1];
    CHECK(total == strlen(prose), "documents cover the text: %zu of %zu", total, strlen(prose));
    free(docs);
    const char *code = "# ==> a.py <==\nx = 1\n\ny = 2\n# ==> b.py <==\nz\n";
    corpus_split(code, strlen(code), "auto", "^# ==> .* <==$", &docs, &n, err);
    CHECK(n == 2 && docs[2] == 28, "header: %zu docs, second at %zu", n, n > 1 ? docs[2] : 0);
    free(docs);
    CHECK(corpus_split(code, strlen(code), "header", "(", &docs, &n, err) == -1 &&
              strstr(err, "data.header"),
          "bad pattern: '%s'", err);
}

static void test_runlog(void)
{
    char path[600], err[RUNLOG_ERR_MAX];
    snprintf(path, sizeof path, "%s/log.db", dir);
    struct runlog *rl;
    CHECK(runlog_open(&rl, path, 0, err) == -1, "opening a missing log without create");
    int rc = runlog_open(&rl, path, 1, err);
    CHECK(rc == 0, "runlog_open: %s", err);
    if (rc)
        return;
    sqlite3 *db = runlog_db(rl);
    sqlite3_stmt *st;
    /* the t table matches GSL and the textbook value */
    sqlite3_prepare_v2(db, "SELECT t975 FROM t_critical WHERE df = 1", -1, &st, NULL);
    sqlite3_step(st);
    double t1 = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    CHECK(fabs(t1 - 12.7062047) < 1e-6, "t(0.975, 1) = %.8f", t1);
    CHECK(fabs(gsl_cdf_tdist_Pinv(0.975, 30) - 2.0422725) < 1e-6, "gsl t(0.975, 30)");
    struct config *c = config_new();
    config_set_arg(c, "train.seed=5", err);
    config_finish(c, err);
    int64_t id, id2;
    char uid[33];
    CHECK(runlog_claim(rl, 0, "train", c, &id, uid) == RUNLOG_CLAIMED && strlen(uid) == 32,
          "claim a lone run");
    runlog_score(rl, id, "valid", "nelbo_bpb", NAN, 0.1, 10);
    sqlite3_prepare_v2(db,
                       "SELECT value IS NULL, (SELECT count(*) FROM params WHERE run_id = ?1)"
                       " FROM scores WHERE run_id = ?1",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_step(st);
    CHECK(sqlite3_column_int(st, 0) == 1, "NaN is stored as NULL");
    CHECK(sqlite3_column_int(st, 1) == config_nkeys(), "params: %d of %d keys",
          sqlite3_column_int(st, 1), config_nkeys());
    sqlite3_finalize(st);
    /* a 'running' row of a dead process is reaped as interrupted */
    sqlite3_exec(db, "UPDATE runs SET pid = 2147483000 WHERE run_id = 1", NULL, NULL, NULL);
    CHECK(runlog_reap(rl) == 1, "reap a dead run");
    char status[16];
    sqlite3_prepare_v2(db, "SELECT status FROM runs WHERE run_id = 1", -1, &st, NULL);
    sqlite3_step(st);
    snprintf(status, sizeof status, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    CHECK(!strcmp(status, "interrupted"), "expected interrupted, got %s", status);
    /* a sweep cell is claimed once, then reported done */
    struct sweep *s;
    const char *p =
        write_file("t.ini", "[sweep]\nname = t\nseeds = 5\nmask.structure = token\n");
    sweep_load(&s, p, NULL, 0, err);
    int64_t sid;
    CHECK(runlog_sweep(rl, s, &sid) == 0, "runlog_sweep: %s", runlog_errmsg(rl));
    CHECK(runlog_claim(rl, sid, "train", c, &id, uid) == RUNLOG_CLAIMED, "claim a cell");
    CHECK(runlog_claim(rl, sid, "train", c, &id2, uid) == RUNLOG_BUSY, "busy while running");
    runlog_finish(rl, id, "failed", "disk full");
    CHECK(runlog_claim(rl, sid, "train", c, &id2, uid) == RUNLOG_CLAIMED && id2 == id,
          "a failed cell is taken over in place (%lld vs %lld)", (long long)id2, (long long)id);
    runlog_finish(rl, id, "finished", NULL);
    CHECK(runlog_claim(rl, sid, "train", c, &id2, uid) == RUNLOG_DONE, "done when finished");
    sqlite3_prepare_v2(db, "SELECT attempts, error IS NULL FROM runs WHERE run_id = ?", -1, &st,
                       NULL);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_step(st);
    CHECK(sqlite3_column_int(st, 0) == 2 && sqlite3_column_int(st, 1) == 1,
          "attempts %d, error cleared %d", sqlite3_column_int(st, 0),
          sqlite3_column_int(st, 1));
    sqlite3_finalize(st);
    sweep_free(&s);
    config_free(&c);
    runlog_close(&rl);
    runlog_close(&rl); /* NULL-safe */
}

/* A version 1 log (before pyramid_levels, curves, previews) is migrated in place on open:
 * the new tables appear, the version becomes 2, the runs stay. */
static void test_migration(void)
{
    char path[600], err[RUNLOG_ERR_MAX];
    snprintf(path, sizeof path, "%s/v1.db", dir);
    struct runlog *rl;
    if (runlog_open(&rl, path, 1, err)) {
        CHECK(0, "runlog_open: %s", err);
        return;
    }
    struct config *c = config_new();
    config_finish(c, err);
    int64_t id;
    char uid[33];
    runlog_claim(rl, 0, "train", c, &id, uid);
    runlog_finish(rl, id, "finished", NULL);
    CHECK(runlog_curve(rl, id, "alpha", "linear", 1, (const double[]){0.5},
                       (const double[]){0.5}) == 0,
          "runlog_curve: %s", runlog_errmsg(rl));
    sqlite3 *db = runlog_db(rl);
    CHECK(sqlite3_exec(db,
                       "DROP TABLE pyramid_levels; DROP TABLE curves; DROP TABLE previews; "
                       "PRAGMA user_version = 1",
                       NULL, NULL, NULL) == SQLITE_OK,
          "making a version 1 log: %s", sqlite3_errmsg(db));
    runlog_close(&rl);
    if (runlog_open(&rl, path, 0, err)) {
        CHECK(0, "opening a version 1 log: %s", err);
        config_free(&c);
        return;
    }
    db = runlog_db(rl);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "SELECT (SELECT user_version FROM pragma_user_version), "
                       "(SELECT count(*) FROM sqlite_master WHERE name IN "
                       "('pyramid_levels', 'curves', 'previews')), "
                       "(SELECT count(*) FROM runs), (SELECT count(*) FROM t_critical)",
                       -1, &st, NULL);
    sqlite3_step(st);
    CHECK(sqlite3_column_int(st, 0) == RUNLOG_VERSION, "version %d, expected %d",
          sqlite3_column_int(st, 0), RUNLOG_VERSION);
    CHECK(sqlite3_column_int(st, 1) == 3, "new tables: %d of 3", sqlite3_column_int(st, 1));
    CHECK(sqlite3_column_int(st, 2) == 1, "runs kept: %d of 1", sqlite3_column_int(st, 2));
    CHECK(sqlite3_column_int(st, 3) == 1000, "t_critical: %d rows", sqlite3_column_int(st, 3));
    sqlite3_finalize(st);
    char *types[] = {"mask"};
    CHECK(runlog_preview(rl, id, 0.5, 1, "a [mask] c", 1, 3, types, 1) == 0,
          "runlog_preview: %s", runlog_errmsg(rl));
    /* a log from a newer pyramask is refused */
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    runlog_close(&rl);
    CHECK(runlog_open(&rl, path, 0, err) == -1 && strstr(err, "schema version 99"),
          "expected a refusal of version 99, got '%s'", err);
    runlog_close(&rl);
    config_free(&c);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_reference();
    test_errors();
    test_hash();
    test_sweep();
    test_split();
    test_runlog();
    test_migration();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fprintf(stderr, "could not remove %s\n", dir);
    if (check_failures)
        fprintf(stderr, "%d failures\n", check_failures);
    return check_failures ? 1 : 0;
}
