/* export.c: the export handle: opening and checking the run log read-only, choosing the
 * sweep, rendering in one read transaction, and writing the file whole or not at all. */
#include "export.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MIN_VERSION = 1, MAX_VERSION = 2, BUSY_MS = 10000, MAX_PREVIEWS = 1000 };

struct export_ctx {
    sqlite3 *db;
    export_settings s;
    char *path;  /* the log, absolute */
    char *sweep; /* NULL = the runs outside sweeps */
    int version;
    int code;       /* the last call's code: EXPORT_OK, or the failure's */
    char msg[1024]; /* its details, "" when there are none */
};

void export_default_settings(export_settings *s)
{
    *s = (export_settings){NULL, NULL, EXPORT_HTML, 0.5, 12, "pyramask"};
}

int export_format_parse(const char *name, export_format *out)
{
    if (name && !strcmp(name, "html"))
        *out = EXPORT_HTML;
    else if (name && !strcmp(name, "ipynb"))
        *out = EXPORT_IPYNB;
    else
        return EXPORT_EINPUT;
    return EXPORT_OK;
}

const char *export_strerror(int rc)
{
    switch (rc) {
    case EXPORT_OK:
        return "ok";
    case EXPORT_ENOMEM:
        return "out of memory";
    case EXPORT_EOPEN:
        return "cannot open the run log";
    case EXPORT_ELOG:
        return "not a pyramask run log";
    case EXPORT_EEMPTY:
        return "no runs";
    case EXPORT_ESWEEP:
        return "no such sweep";
    case EXPORT_EWRITE:
        return "cannot write the output";
    case EXPORT_EQUERY:
        return "a query on the run log failed";
    case EXPORT_EINPUT:
        return "bad setting";
    default:
        return "unknown error";
    }
}

const char *export_errmsg(const export_ctx *e)
{
    if (!e) /* export_open could not make the handle */
        return export_strerror(EXPORT_ENOMEM);
    return e->msg[0] ? e->msg : export_strerror(e->code);
}
const char *export_sweep(const export_ctx *e)
{
    return e ? e->sweep : NULL;
}

/* Records rc and its details in the handle and returns rc: every failure goes through here. */
static int fail(export_ctx *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(export_ctx *e, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = rc;
    return rc;
}

/* What every call on a handle does first: forgets the last outcome. */
static void clear(export_ctx *e)
{
    e->code = EXPORT_OK;
    e->msg[0] = 0;
}

/* The one integer a query returns, or -1 (the failure recorded) when it fails. */
static long long scalar(export_ctx *e, const char *sql, const char *arg)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(e->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(e, EXPORT_EQUERY, "%s", sqlite3_errmsg(e->db));
        return -1;
    }
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    else
        fail(e, EXPORT_EQUERY, "%s", sqlite3_errmsg(e->db));
    sqlite3_finalize(st);
    return v;
}

/* Is this a pyramask run log of a version we read? */
static int check_log(export_ctx *e)
{
    const char *p = e->s.db_path;
    long long v = scalar(e, "PRAGMA user_version", NULL);
    if (v < 0)
        return fail(e, EXPORT_ELOG, "%s: not a pyramask run log (%s)", p,
                    sqlite3_errmsg(e->db));
    long long tables = scalar(e,
                              "SELECT count(*) FROM sqlite_master WHERE name IN ('sweeps', "
                              "'factors', 'runs', 'params', 'metrics', 'scores', 'v_final', "
                              "'v_cells', 'v_ablation')",
                              NULL);
    if (tables < 0)
        return fail(e, EXPORT_ELOG, "%s: not a pyramask run log (%s)", p,
                    sqlite3_errmsg(e->db));
    if (v > MAX_VERSION)
        return fail(e, EXPORT_ELOG,
                    "%s: schema version %lld, newer than this pyramask reads "
                    "(%d)",
                    p, v, MAX_VERSION);
    if (v < MIN_VERSION || tables != 9)
        return fail(e, EXPORT_ELOG,
                    "%s: not a pyramask run log (no runs table, or schema "
                    "version %lld)",
                    p, v);
    e->version = (int)v;
    return 0;
}

/* The sweep names, "a, b, c" (at most 10), for messages. */
static void sweep_names(export_ctx *e, char *out, size_t n)
{
    sqlite3_stmt *st;
    size_t len = 0;
    out[0] = 0;
    if (sqlite3_prepare_v2(e->db, "SELECT name FROM sweeps ORDER BY created_at DESC LIMIT 11",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    for (int i = 0; sqlite3_step(st) == SQLITE_ROW && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "",
                                i == 10 ? "..." : (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static int choose_sweep(export_ctx *e)
{
    const char *p = e->s.db_path;
    if (e->s.sweep) {
        long long id = scalar(
            e, "SELECT coalesce((SELECT sweep_id FROM sweeps WHERE name = ?), 0)", e->s.sweep);
        if (id < 0)
            return fail(e, EXPORT_EQUERY, "%s: %s", p, sqlite3_errmsg(e->db));
        if (id == 0) {
            char names[400];
            sweep_names(e, names, sizeof names);
            return fail(e, EXPORT_ESWEEP, "%s: no sweep named '%s' (%s%s)", p, e->s.sweep,
                        names[0] ? "sweeps: " : "the log has no sweeps", names);
        }
        if (scalar(e,
                   "SELECT count(*) FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id "
                   "WHERE s.name = ?",
                   e->s.sweep) <= 0)
            return fail(e, EXPORT_EEMPTY, "%s: sweep '%s' has no runs yet", p, e->s.sweep);
        e->sweep = strdup(e->s.sweep);
        return e->sweep ? 0 : fail(e, EXPORT_ENOMEM, "out of memory");
    }
    long long runs = scalar(e, "SELECT count(*) FROM runs", NULL);
    if (runs < 0)
        return fail(e, EXPORT_EQUERY, "%s: %s", p, sqlite3_errmsg(e->db));
    if (runs == 0)
        return fail(e, EXPORT_EEMPTY, "%s: the run log holds no runs", p);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db,
                           "SELECT name FROM sweeps s WHERE EXISTS (SELECT 1 FROM runs r "
                           "WHERE r.sweep_id = s.sweep_id) ORDER BY created_at DESC, "
                           "sweep_id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(e, EXPORT_EQUERY, "%s: %s", p, sqlite3_errmsg(e->db));
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        e->sweep = strdup((const char *)sqlite3_column_text(st, 0));
        if (!e->sweep)
            rc = fail(e, EXPORT_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    return rc;
}

int export_open(export_ctx **out, const export_settings *s)
{
    export_ctx *e = calloc(1, sizeof *e);
    *out = e;
    if (!e)
        return EXPORT_ENOMEM;
    e->s = *s;
    if (!e->s.generator)
        e->s.generator = "pyramask";
    if (!s->db_path || !*s->db_path)
        return fail(e, EXPORT_EINPUT, "no run log given");
    if (s->format != EXPORT_HTML && s->format != EXPORT_IPYNB)
        return fail(e, EXPORT_EINPUT, "unknown format %d", (int)s->format);
    if (!(s->preview_t >= 0 && s->preview_t <= 1))
        return fail(e, EXPORT_EINPUT, "preview t %g outside [0, 1]", s->preview_t);
    if (s->max_previews < 1 || s->max_previews > MAX_PREVIEWS)
        return fail(e, EXPORT_EINPUT, "max previews %d outside 1..%d", s->max_previews,
                    MAX_PREVIEWS);
    struct stat sb;
    if (stat(s->db_path, &sb))
        return fail(e, EXPORT_EOPEN, "%s: %s", s->db_path,
                    errno == ENOENT ? "no such run log" : strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return fail(e, EXPORT_EOPEN, "%s: is a directory, not a run log", s->db_path);
    e->path = realpath(s->db_path, NULL);
    if (!e->path)
        return fail(e, EXPORT_EOPEN, "%s: %s", s->db_path, strerror(errno));
    if (sqlite3_open_v2(s->db_path, &e->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return fail(e, EXPORT_EOPEN, "%s: %s", s->db_path,
                    e->db ? sqlite3_errmsg(e->db) : "cannot open");
    sqlite3_busy_timeout(e->db, BUSY_MS);
    int rc = check_log(e);
    return rc ? rc : choose_sweep(e);
}

int export_render(export_ctx *e, char **out, size_t *len)
{
    clear(e);
    *out = NULL;
    if (!e->db)
        return fail(e, EXPORT_EINPUT, "the run log is not open");
    struct report r = {.db = e->db,
                       .sweep = e->sweep,
                       .generator = e->s.generator,
                       .version = e->version,
                       .max_previews = e->s.max_previews,
                       .preview_t = e->s.preview_t};
    r.db_path = sqlite3_mprintf("%s", e->path);
    r.exported_at = sqlite3_mprintf("%s", "");
    if (!r.db_path || !r.exported_at) {
        export_report_free(&r);
        return fail(e, EXPORT_ENOMEM, "out of memory");
    }
    if (sqlite3_exec(e->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        export_report_free(&r);
        return fail(e, EXPORT_EQUERY, "%s: %s", e->path, sqlite3_errmsg(e->db));
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db, "SELECT strftime('%Y-%m-%d %H:%M UTC', 'now')", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_free(r.exported_at);
        r.exported_at = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    int rc = r.exported_at ? export_report_build(&r) : -2;
    char *doc = NULL;
    if (!rc) {
        doc = e->s.format == EXPORT_IPYNB ? export_render_ipynb(&r) : export_render_html(&r);
        rc = doc ? 0 : strcmp(r.msg, "out of memory") ? -1 : -2;
    }
    sqlite3_exec(e->db, "COMMIT", NULL, NULL, NULL);
    if (!rc) {
        size_t n = strlen(doc);
        *out = malloc(n + 1);
        if (*out) {
            memcpy(*out, doc, n + 1);
            *len = n;
        } else {
            rc = -2;
        }
    }
    if (rc)
        fail(e, rc == -2 ? EXPORT_ENOMEM : EXPORT_EQUERY, "%s: %s", e->path,
             rc == -2 ? "out of memory" : r.msg);
    sqlite3_free(doc);
    export_report_free(&r);
    return rc == 0 ? EXPORT_OK : rc == -2 ? EXPORT_ENOMEM : EXPORT_EQUERY;
}

/* Makes the rename of a file in path's directory last: fsync of the directory. Only
 * durability is at stake here (path already holds the whole new file), so a failure is
 * not reported; some file systems refuse to sync a directory. */
static void sync_dir(const char *path)
{
    char *d = strdup(path);
    if (!d)
        return;
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(d);
}

/* The library's one way to write a file, whole or not at all: n bytes to a new temporary
 * file beside path, fsync, rename to path, fsync of the directory. On failure the temporary
 * file is removed and path is untouched. */
static int write_whole(export_ctx *e, const char *path, const char *data, size_t n)
{
    static unsigned serial;
    char tmp[PATH_MAX + 64];
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%u", path, (long)getpid(), serial++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            return fail(e, EXPORT_EWRITE, "%s: %s", path, strerror(errno));
    }
    if (fd < 0)
        return fail(e, EXPORT_EWRITE, "%s: no free temporary name", path);
    size_t done = 0;
    errno = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int err = done < n ? (errno ? errno : EIO) : 0;
    if (!err && fsync(fd))
        err = errno;
    if (close(fd) && !err)
        err = errno;
    if (!err && rename(tmp, path))
        err = errno;
    if (err) {
        unlink(tmp);
        return fail(e, EXPORT_EWRITE, "%s: %s", path, strerror(err));
    }
    sync_dir(path);
    return 0;
}

int export_write(export_ctx *e, const char *path)
{
    clear(e);
    if (!path || !*path)
        return fail(e, EXPORT_EINPUT, "no output file given");
    struct stat out, log;
    if (e->path && !stat(path, &out) && !stat(e->path, &log) && out.st_dev == log.st_dev &&
        out.st_ino == log.st_ino)
        return fail(e, EXPORT_EINPUT, "%s: is the run log itself", path);
    char *doc;
    size_t n;
    int rc = export_render(e, &doc, &n);
    if (rc)
        return rc;
    rc = write_whole(e, path, doc, n);
    free(doc);
    return rc;
}

void export_close(export_ctx **pe)
{
    if (!pe || !*pe)
        return;
    sqlite3_close((*pe)->db);
    free((*pe)->path);
    free((*pe)->sweep);
    free(*pe);
    *pe = NULL;
}
