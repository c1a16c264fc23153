/* notebooks-export tests: whole reports of a synthetic run log (20 runs, hostile names and
 * malformed text), as HTML and as a notebook checked with SQLite's JSON functions; and the
 * errors: missing, foreign, newer, empty logs, unknown sweeps, unwritable outputs. */
#include "check.h"
#include "export.h"
#include "markup.h"
#include "queries.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/pyramask-export-test-XXXXXX";

/* The sweep's name: every character HTML, JSON and Python strings care about. */
static const char hostile[] = "q<script>alert(1)</script>&\"'\\ \xC3\xA9";

static const char *path(const char *name)
{
    static char buf[4][600];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 600, "%s/%s", dir, name);
    return p;
}

static char *read_text(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&s, &n);
    int c;
    while (m && (c = fgetc(f)) != EOF)
        fputc(c, m);
    if (m)
        fclose(m);
    fclose(f);
    return s;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    CHECK(rc == SQLITE_OK, "%s", err ? err : "?");
    sqlite3_free(err);
    return rc;
}

/* Ten configurations (5 structures x 2 types) times 2 seeds, the last run failed; two lone
 * runs; an empty sweep. Values are made up; the text is hostile. */
static const char fill[] =
    "PRAGMA user_version = 2;"
    "INSERT INTO t_critical VALUES (1, 12.706204736), (2, 4.30265273), (3, 3.182446305),"
    " (9, 2.262157163), (19, 2.093024054);"
    "INSERT INTO sweeps(sweep_id, name, spec, created_at) VALUES"
    " (1, %Q, '[sweep]' || char(10) || 'note = <pre> & </pre>', 2460000),"
    " (2, 'idle', '', 2459000);"
    "INSERT INTO factors VALUES"
    " (1, 'mask.structure', 0, json_array('tok</td>', 'sp\"an', 'unit', 'regex', 'block')),"
    " (1, 'mask.types', 1, json_array('a&b', 'x'));"
    "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 21)"
    " INSERT INTO runs(run_id, uid, sweep_id, kind, status, seed, config_hash, config,"
    "  started_at, finished_at, code_revision, host, pid, pid_tag, error)"
    " SELECT i + 1, printf('%%032d', i), CASE WHEN i < 20 THEN 1 END, 'train',"
    "  CASE WHEN i = 19 THEN 'failed' ELSE 'finished' END, i %% 2 + 1,"
    "  printf('%%016x', i / 2), '', 2460000.5, 2460000.5 + 1 / 1440.0,"
    "  'rev-' || CAST(X'FF' AS TEXT), 'host', 1, 'tag',"
    "  CASE WHEN i = 19 THEN 'boom <b>' || CAST(X'C301' AS TEXT) END FROM k;"
    "INSERT INTO params SELECT run_id, 'mask.structure', json_extract((SELECT levels FROM"
    " factors WHERE key = 'mask.structure'), '$[' || ((run_id - 1) / 2 %% 5) || ']')"
    " FROM runs WHERE sweep_id = 1;"
    "INSERT INTO params SELECT run_id, 'mask.types', json_extract((SELECT levels FROM"
    " factors WHERE key = 'mask.types'), '$[' || ((run_id - 1) / 10) || ']')"
    " FROM runs WHERE sweep_id = 1;"
    "INSERT INTO params SELECT run_id, 'tokenizer.model_level', '1' FROM runs;"
    "INSERT INTO scores SELECT run_id, 'valid', 'nelbo_bpb',"
    " 2 + 0.01 * ((run_id - 1) / 2) + 0.003 * seed, 0.02, 1000 FROM runs WHERE run_id <> 20;"
    "INSERT INTO scores SELECT run_id, 'valid', 'nelbo_bpb_sched', 2.5, 0.03, 1000 FROM runs"
    " WHERE run_id <> 20;"
    "INSERT INTO scores SELECT run_id, 'valid', 'masked_acc', 0.1, NULL, 500 FROM runs"
    " WHERE run_id <> 20;"
    "WITH RECURSIVE s(step) AS (SELECT 10 UNION ALL SELECT step + 10 FROM s WHERE step < 100)"
    " INSERT INTO metrics(run_id, step, key, value) SELECT run_id, step, 'train_loss',"
    " CASE WHEN step = 50 AND run_id = 3 THEN NULL"
    "      ELSE 5 - step / 50.0 + 0.01 * run_id END FROM runs, s;"
    "WITH RECURSIVE t(x) AS (SELECT 0.0 UNION ALL SELECT x + 0.25 FROM t WHERE x < 1)"
    " INSERT INTO curves SELECT run_id, 'alpha', CASE WHEN run_id %% 2 THEN 'linear'"
    " ELSE 'poly:2' END, x, CASE WHEN run_id %% 2 THEN 1 - x ELSE 1 - x * x END FROM runs, t;"
    "INSERT INTO pyramids(hash, path, corpus, levels, superword, pretok)"
    " VALUES ('abc', '/p', '/c', '300,400', 0, 'gpt2');"
    "WITH RECURSIVE l(level) AS (SELECT 0 UNION ALL SELECT level + 1 FROM l WHERE level < 2)"
    " INSERT INTO pyramid_levels SELECT run_id, 'abc', level,"
    " CASE level WHEN 0 THEN 'byte' ELSE 'subword' END, json_array(256, 300, 400) ->> level,"
    " 1000 - 200 * level, 1000, 100 FROM runs, l;"
    "INSERT INTO previews SELECT run_id, 0.5, 1,"
    " 'a [mask] b </pre><script>x</script> ' || CAST(X'FFFE' AS TEXT) || ' [mask*2] [i] '"
    " || char(1) || ' end' || char(10), 3, 9, '[\"mask\"]' FROM runs;";

/* A run log with the pyramask schema (experiments/schema.sql) and the rows of fill. */
static int make_log(const char *file, int fill_rows)
{
    unlink(file);
    sqlite3 *db;
    char *schema = read_text(SCHEMA_SQL);
    CHECK(schema != NULL, "cannot read %s", SCHEMA_SQL);
    int rc = sqlite3_open(file, &db) != SQLITE_OK || !schema || exec(db, schema);
    if (!rc && fill_rows) {
        char *sql = sqlite3_mprintf(fill, hostile);
        rc = exec(db, sql);
        sqlite3_free(sql);
    } else if (!rc) {
        rc = exec(db, "PRAGMA user_version = 2");
    }
    sqlite3_close(db);
    free(schema);
    return rc;
}

static int render(const char *db, const char *sweep, export_format format, char **out,
                  char *msg, size_t msglen)
{
    export_settings s;
    export_default_settings(&s);
    s.db_path = db;
    s.sweep = sweep;
    s.format = format;
    s.generator = "pyramask test";
    export_ctx *e;
    int rc = export_open(&e, &s);
    if (!rc) {
        size_t len;
        rc = export_render(e, out, &len);
        CHECK(rc || len == strlen(*out), "length %zu of a %zu-byte document", len,
              rc ? 0 : strlen(*out));
    }
    snprintf(msg, msglen, "%s", export_errmsg(e));
    export_close(&e);
    CHECK(e == NULL, "export_close sets the handle to NULL");
    return rc;
}

/* Is the document valid UTF-8 without control characters but \t \n \r? */
static int clean_text(const char *doc)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    export_mk_clean(b, doc, strlen(doc));
    char *c = export_mk_finish(b);
    int same = c && !strcmp(c, doc);
    sqlite3_free(c);
    return same;
}

static int count(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

static void test_html(void)
{
    char *doc = NULL, msg[1024];
    int rc = render(path("log.db"), NULL, EXPORT_HTML, &doc, msg, sizeof msg);
    CHECK(rc == EXPORT_OK, "render: %s", msg);
    if (rc)
        return;
    CHECK(!strstr(doc, "<script") && !strstr(doc, "</td></td>"), "markup from the log got in");
    CHECK(strstr(doc, "<h1>Sweep <code>q&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"),
          "the latest sweep with runs, its name escaped");
    CHECK(clean_text(doc), "the page is not clean UTF-8");
    CHECK(strstr(doc, "Content-Security-Policy") && !strstr(doc, "src=") &&
              !strstr(doc, "href=\"http") && !strstr(doc, "url(") && !strstr(doc, "@import"),
          "the page loads nothing");
    CHECK_INT(count(doc, "<svg"), count(doc, "</svg>"));
    CHECK_INT(5, count(doc, "<svg")); /* ablation, cells, curves, schedules, pyramid */
    CHECK(strstr(doc, "No sample quality"), "no samples' scores: the frontier says so");
    CHECK(strstr(doc, "<mark class=\"m0\">[mask*2]</mark> [i]"),
          "mask markers highlighted, other brackets left alone");
    CHECK(strstr(doc, "boom &lt;b&gt;\xEF\xBF\xBD\xEF\xBF\xBD"),
          "the failed run's error, cleaned");
    CHECK(strstr(doc, ">tok&lt;/td&gt; \xC2\xB7 a&amp;b<"), "configuration labels escaped");
    CHECK(strstr(doc, "sp&quot;an"), "quotes escaped");
    CHECK(!strstr(doc, "run 21"), "lone runs left out of the sweep");
    free(doc);
}

static void test_notebook(void)
{
    char *doc = NULL, msg[1024];
    int rc = render(path("log.db"), hostile, EXPORT_IPYNB, &doc, msg, sizeof msg);
    CHECK(rc == EXPORT_OK, "render: %s", msg);
    if (rc)
        return;
    CHECK(clean_text(doc), "the notebook is not clean UTF-8");
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(
        db,
        "SELECT json_valid(?1), ?1 ->> '$.nbformat', ?1 ->> '$.nbformat_minor',"
        " ?1 ->> '$.metadata.pyramask.sweep' = ?2,"
        " (SELECT count(*) FROM json_each(?1, '$.cells')),"
        " (SELECT count(*) FROM json_each(?1, '$.cells') WHERE value ->> 'cell_type' = 'code'),"
        " (SELECT count(DISTINCT value ->> 'id') FROM json_each(?1, '$.cells')),"
        " instr(?1 ->> '$.cells[1].source', 'SWEEP = ' || json_quote(?2)) > 0,"
        " (SELECT count(*) FROM json_each(?1, '$.cells') c, json_each(c.value, '$.outputs') o"
        "   WHERE o.value ->> '$.data.\"image/svg+xml\"' LIKE '<svg %'"
        "     AND o.value ->> '$.data.\"text/html\"' LIKE '<img %base64,%'),"
        " (SELECT count(*) FROM json_each(?1, '$.cells') c, json_each(c.value, '$.outputs') o"
        "   WHERE o.value ->> 'output_type' = 'execute_result'"
        "     AND o.value ->> 'execution_count' = c.value ->> 'execution_count'),"
        " (SELECT group_concat(o.value ->> 'text', '') FROM json_each(?1, '$.cells') c,"
        "   json_each(c.value, '$.outputs') o WHERE o.value ->> 'output_type' = 'stream')",
        -1, &st, NULL);
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hostile, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    CHECK(rc == SQLITE_ROW, "querying the notebook: %s", sqlite3_errmsg(db));
    if (rc == SQLITE_ROW) {
        CHECK_INT(1, sqlite3_column_int(st, 0));
        CHECK_INT(4, sqlite3_column_int(st, 1));
        CHECK_INT(5, sqlite3_column_int(st, 2));
        CHECK(sqlite3_column_int(st, 3) == 1, "the sweep's name survives the JSON round trip");
        CHECK_INT(26, sqlite3_column_int(st, 4)); /* title, setup, 12 sections x 2 */
        CHECK_INT(13, sqlite3_column_int(st, 5));
        CHECK_INT(26, sqlite3_column_int(st, 6)); /* unique cell ids */
        CHECK(sqlite3_column_int(st, 7) == 1, "the setup cell sets SWEEP as a Python literal");
        CHECK_INT(5, sqlite3_column_int(st, 8)); /* every figure as SVG and as an <img> */
        CHECK_INT(6, sqlite3_column_int(st, 9)); /* the tables: overview, factors, ablation,
                                                     cells, pyramid, runs */
        const char *streams = (const char *)sqlite3_column_text(st, 10);
        CHECK(streams && strstr(streams, "note = <pre> & </pre>\n") &&
                  strstr(streams, "--- tok</td> \xC2\xB7 a&b | "),
              "streams carry the spec and the previews as plain text");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(doc);
}

/* A copy of the synthetic log changed by sql; NULL when it could not be made. */
static const char *variant(const char *name, const char *sql)
{
    const char *db = path(name);
    if (make_log(db, 1))
        return NULL;
    sqlite3 *h;
    sqlite3_open(db, &h);
    int rc = exec(h, sql);
    sqlite3_close(h);
    return rc ? NULL : db;
}

static void test_lone_runs(void)
{
    const char *db = variant("lone.db", "DELETE FROM factors; DELETE FROM sweeps;"
                                        " UPDATE runs SET sweep_id = NULL");
    char *doc = NULL, msg[1024];
    int rc = db ? render(db, NULL, EXPORT_HTML, &doc, msg, sizeof msg) : -1;
    CHECK(rc == EXPORT_OK, "render: %s", db ? msg : "no log");
    CHECK(doc && strstr(doc, "<h1>Runs outside sweeps</h1>") &&
              strstr(doc, "These runs belong to no sweep"),
          "a log without sweeps reports its lone runs");
    free(doc);
}

/* Mask types whose names markup cares about: the previews' markers [name] and [name*n] are
 * highlighted with the name escaped inside <mark>, never as raw markup. */
static void test_hostile_types(void)
{
    const char *db =
        variant("types.db", "UPDATE previews SET types = json_array('mask', 'x<y&z'),"
                            " text = 'a [x<y&z*3] b [mask] c [x<y&z] d [x<y&zz]'");
    char *doc = NULL, msg[1024];
    int rc = db ? render(db, NULL, EXPORT_HTML, &doc, msg, sizeof msg) : -1;
    CHECK(rc == EXPORT_OK, "render: %s", db ? msg : "no log");
    if (rc)
        return;
    CHECK(strstr(doc,
                 "<pre>a <mark class=\"m1\">[x&lt;y&amp;z*3]</mark> b "
                 "<mark class=\"m0\">[mask]</mark> c <mark class=\"m1\">[x&lt;y&amp;z]</mark>"
                 " d [x&lt;y&amp;zz]</pre>"),
          "the markers of a type named x<y&z highlighted and escaped, an unknown one escaped");
    CHECK(!strstr(doc, "x<y"), "a type's name got into the page unescaped");
    CHECK(clean_text(doc), "the page is not clean UTF-8");
    free(doc);
}

/* The sample-quality frontier: two samplers (strategy) at 1, 2, 4, 8 and 16 steps, two
 * seeds each (run 20 failed); each point is a configuration's mean over its finished seeds
 * at its mean model calls, a line per sampler labelled without the steps, the length left
 * out, one chart per quality score. */
static void test_frontier(void)
{
    const char *db = variant(
        "frontier.db",
        "DELETE FROM factors; DELETE FROM params WHERE key LIKE 'mask.%';"
        "INSERT INTO factors VALUES (1, 'score.sample_strategy', 0,"
        "  json_array('random', 'confidence')),"
        " (1, 'score.sample_steps', 1, json_array('1', '2', '4', '8', '16'));"
        "INSERT INTO params SELECT run_id, 'score.sample_strategy',"
        "  CASE WHEN (run_id - 1) / 2 < 5 THEN 'random' ELSE 'confidence' END"
        "  FROM runs WHERE sweep_id = 1;"
        "INSERT INTO params SELECT run_id, 'score.sample_steps', 1 << ((run_id - 1) / 2 % 5)"
        "  FROM runs WHERE sweep_id = 1;"
        "INSERT INTO scores SELECT run_id, 'samples', 'sample_nfe',"
        "  (1 << ((run_id - 1) / 2 % 5)) + seed - 1, NULL, 64 FROM runs;"
        "INSERT INTO scores SELECT run_id, 'samples', 'sample_length', 64, NULL, 64 FROM runs;"
        "INSERT INTO scores SELECT run_id, 'samples', 'sample_js2',"
        "  1.0 / (1 << ((run_id - 1) / 2 % 5)) + seed / 100.0, NULL, 64 FROM runs;"
        "INSERT INTO scores SELECT run_id, 'samples', 'sample_entropy', run_id, NULL, 64"
        "  FROM runs;");
    CHECK(db != NULL, "the frontier log");
    if (!db)
        return;
    sqlite3 *h;
    sqlite3_stmt *st = NULL;
    sqlite3_open(db, &h);
    int rc = sqlite3_prepare_v2(h, export_sql_frontier, -1, &st, NULL);
    CHECK(rc == SQLITE_OK, "frontier query: %s", sqlite3_errmsg(h));
    sqlite3_bind_text(st, 1, hostile, -1, SQLITE_STATIC);
    int n = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *metric = (const char *)sqlite3_column_text(st, 0);
        const char *sampler = (const char *)sqlite3_column_text(st, 2);
        double nfe = sqlite3_column_double(st, 4), v = sqlite3_column_double(st, 5);
        int runs = sqlite3_column_int(st, 6);
        /* rows: entropy then js2; confidence then random; calls 1.5, 2.5, ..., 16.5 */
        int k = n % 10, steps = 1 << (k % 5), conf = k < 5;
        CHECK(!strcmp(metric, n < 10 ? "sample_entropy" : "sample_js2"), "row %d: %s", n,
              metric);
        CHECK(!strcmp(sampler, conf ? "confidence" : "random"), "row %d: sampler %s", n,
              sampler);
        double want_nfe = steps + (conf && steps == 16 ? 0 : 0.5);
        CHECK(fabs(nfe - want_nfe) < 1e-12, "row %d: nfe %g, want %g", n, nfe, want_nfe);
        CHECK_INT(conf && steps == 16 ? 1 : 2, runs);
        if (n >= 10) {
            double want = 1.0 / steps + (conf && steps == 16 ? 0.01 : 0.015);
            CHECK(fabs(v - want) < 1e-12, "row %d: js2 %g, want %g", n, v, want);
        }
        n++;
    }
    CHECK_INT(20, n);
    sqlite3_finalize(st);
    sqlite3_close(h);
    char *doc = NULL, msg[1024];
    rc = render(db, NULL, EXPORT_HTML, &doc, msg, sizeof msg);
    CHECK(rc == EXPORT_OK, "render: %s", msg);
    if (rc)
        return;
    CHECK_INT(7, count(doc, "<svg")); /* and a chart for each of the two quality scores */
    CHECK(!strstr(doc, "No sample quality"), "the frontier section has charts");
    free(doc);
}

/* A version 1 log, before pyramid_levels, curves and previews: the sections say so. */
static void test_version1(void)
{
    const char *db = variant("v1.db", "DROP TABLE pyramid_levels; DROP TABLE curves;"
                                      " DROP TABLE previews; PRAGMA user_version = 1");
    char *doc = NULL, msg[1024];
    int rc = db ? render(db, NULL, EXPORT_IPYNB, &doc, msg, sizeof msg) : -1;
    CHECK(rc == EXPORT_OK, "render: %s", db ? msg : "no log");
    CHECK(doc && count(doc, "schema version 1) holds no") == 3,
          "three sections explain what a version 1 log lacks");
    free(doc);
}

static int file_count(const char *d)
{
    DIR *x = opendir(d);
    int n = 0;
    for (struct dirent *e; x && (e = readdir(x));)
        n += e->d_name[0] != '.';
    if (x)
        closedir(x);
    return n;
}

#define CHECK_OPEN(db_, sweep_, code_, needle_)                                           \
    do {                                                                                  \
        export_settings s_;                                                               \
        export_default_settings(&s_);                                                     \
        s_.db_path = (db_);                                                               \
        s_.sweep = (sweep_);                                                              \
        export_ctx *e_;                                                                   \
        int rc_ = export_open(&e_, &s_);                                                  \
        CHECK(rc_ == (code_) && strstr(export_errmsg(e_), needle_) &&                     \
                  strcmp(export_errmsg(e_), export_strerror(EXPORT_OK)),                  \
              "expected %s with \"%s\", got %s: \"%s\"", export_strerror(code_), needle_, \
              export_strerror(rc_), export_errmsg(e_));                                   \
        export_close(&e_);                                                                \
    } while (0)

static void test_errors(void)
{
    CHECK_OPEN(path("missing.db"), NULL, EXPORT_EOPEN, "missing.db: no such run log");
    CHECK_OPEN(dir, NULL, EXPORT_EOPEN, "is a directory");
    FILE *f = fopen(path("text.db"), "w");
    fputs("not a database at all, just some text that is long enough to be a header\n", f);
    fclose(f);
    CHECK_OPEN(path("text.db"), NULL, EXPORT_ELOG, "not a pyramask run log");
    sqlite3 *h;
    sqlite3_open(path("other.db"), &h);
    exec(h, "CREATE TABLE t(x)");
    sqlite3_close(h);
    CHECK_OPEN(path("other.db"), NULL, EXPORT_ELOG, "not a pyramask run log");
    fclose(fopen(path("zero.db"), "w"));
    CHECK_OPEN(path("zero.db"), NULL, EXPORT_ELOG, "not a pyramask run log");
    if (!make_log(path("empty.db"), 0))
        CHECK_OPEN(path("empty.db"), NULL, EXPORT_EEMPTY, "holds no runs");
    if (!make_log(path("new.db"), 0)) {
        sqlite3_open(path("new.db"), &h);
        exec(h, "PRAGMA user_version = 99");
        sqlite3_close(h);
        CHECK_OPEN(path("new.db"), NULL, EXPORT_ELOG, "schema version 99, newer");
    }
    CHECK_OPEN(path("log.db"), "nope", EXPORT_ESWEEP,
               "no sweep named 'nope' (sweeps: q<script>");
    CHECK_OPEN(path("log.db"), "idle", EXPORT_EEMPTY, "sweep 'idle' has no runs yet");
    CHECK_OPEN(path("log.db"), "idle", EXPORT_EEMPTY, "");
    /* bad settings */
    export_settings s;
    export_default_settings(&s);
    s.db_path = path("log.db");
    s.preview_t = 1.5;
    export_ctx *e;
    CHECK_INT(EXPORT_EINPUT, export_open(&e, &s));
    CHECK_STR("preview t 1.5 outside [0, 1]", export_errmsg(e));
    export_close(&e);
    export_default_settings(&s);
    s.db_path = path("log.db");
    s.max_previews = 0;
    CHECK_INT(EXPORT_EINPUT, export_open(&e, &s));
    CHECK_STR("max previews 0 outside 1..1000", export_errmsg(e));
    export_close(&e);
    CHECK_STR("out of memory", export_errmsg(NULL)); /* export_open made no handle */
    export_format fmt;
    CHECK_INT(EXPORT_EINPUT, export_format_parse("pdf", &fmt));
    CHECK(export_format_parse("ipynb", &fmt) == 0 && fmt == EXPORT_IPYNB, "ipynb");
    /* writing: whole or nothing, never over the log */
    export_default_settings(&s);
    s.db_path = path("log.db");
    CHECK_INT(EXPORT_OK, export_open(&e, &s));
    CHECK_STR("ok", export_errmsg(e));
    int before = file_count(dir);
    CHECK_INT(EXPORT_EWRITE, export_write(e, path("no/such/dir/out.html")));
    CHECK(strstr(export_errmsg(e), "out.html: No such file"), "got \"%s\"", export_errmsg(e));
    CHECK_INT(EXPORT_EWRITE, export_write(e, dir));
    CHECK(strstr(export_errmsg(e), "Is a directory") && !strstr(export_errmsg(e), "out.html"),
          "the second failure's details, not the first's: \"%s\"", export_errmsg(e));
    CHECK_INT(EXPORT_EINPUT, export_write(e, path("log.db")));
    CHECK(strstr(export_errmsg(e), "is the run log itself"), "got \"%s\"", export_errmsg(e));
    CHECK_INT(EXPORT_EINPUT, export_write(e, ""));
    CHECK_STR("no output file given", export_errmsg(e));
    CHECK_INT(before, file_count(dir)); /* no temporary file left behind */
    CHECK_INT(EXPORT_OK, export_write(e, path("out.html")));
    CHECK_STR("ok", export_errmsg(e)); /* a success forgets the last failure */
    CHECK_INT(before + 1, file_count(dir));
    char *doc;
    size_t len;
    CHECK_INT(EXPORT_EINPUT, export_write(e, NULL));
    CHECK_INT(EXPORT_OK, export_render(e, &doc, &len));
    CHECK_STR("ok", export_errmsg(e));
    free(doc);
    struct stat sb;
    CHECK(!stat(path("out.html"), &sb) && sb.st_size > 10000, "out.html written whole");
    export_close(&e);
    export_close(&e); /* NULL-safe */
    export_close(NULL);
    CHECK(strcmp(export_strerror(-100), "") != 0, "every code has a name");
}

void test_report(void)
{
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    if (!make_log(path("log.db"), 1)) {
        test_html();
        test_notebook();
        test_errors();
    }
    test_lone_runs();
    test_hostile_types();
    test_frontier();
    test_version1();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fprintf(stderr, "could not remove %s\n", dir);
}
