/* export.h: the whole API of notebooks-export: a pyramask run log (SQLite) as a report, a
 * Jupyter notebook (nbformat 4) or a standalone HTML page with SVG charts. Reads only the log.
 *
 * The report of one sweep (or of the runs outside any sweep) holds: an overview of its runs,
 * the sweep file and its factors, the ablation table (mean and 95% CI per factor level, from
 * the view v_ablation) with a chart, held-out bits per byte per configuration as bars with
 * intervals, training curves, the schedules alpha(t), the pyramid's levels, corrupted-text
 * previews and every run's scores. The notebook's code cells re-run each query with Python's
 * sqlite3 (pandas and matplotlib when present) and come with their outputs filled in; the
 * HTML page shows the same tables and charts and needs no network and no scripts.
 *
 *     export_ctx *e;
 *     export_settings s;
 *     export_default_settings(&s);
 *     s.db_path = "pyramask.db";
 *     int rc = export_open(&e, &s);
 *     if (!rc)
 *         rc = export_write(e, "report.html");
 *     if (rc)
 *         fprintf(stderr, "%s\n", export_errmsg(e));
 *     export_close(&e);
 */
#ifndef PYRAMASK_EXPORT_H
#define PYRAMASK_EXPORT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (negative); export_strerror names them. */
enum {
    EXPORT_OK = 0,
    EXPORT_ENOMEM = -1, /* out of memory */
    EXPORT_EOPEN = -2,  /* the run log is missing or cannot be opened */
    EXPORT_ELOG = -3,   /* not a pyramask run log (or one from a newer pyramask) */
    EXPORT_EEMPTY = -4, /* no runs (in the log, or in the sweep) */
    EXPORT_ESWEEP = -5, /* no sweep of that name */
    EXPORT_EWRITE = -6, /* the output cannot be written */
    EXPORT_EQUERY = -7, /* a query on the log failed (a damaged log) */
    EXPORT_EINPUT = -8, /* a bad setting (format, preview_t, max_previews, paths) */
};

typedef enum export_format { EXPORT_HTML = 0, EXPORT_IPYNB = 1 } export_format;

typedef struct export_settings {
    const char *db_path;   /* the run log (required) */
    const char *sweep;     /* the sweep to report; NULL = the latest sweep that has runs, or
                              the runs outside sweeps when the log has no sweep */
    export_format format;  /* default EXPORT_HTML */
    double preview_t;      /* the t of the corrupted-text previews shown (default 0.5) */
    int max_previews;      /* distinct previews shown, 1..1000 (default 12) */
    const char *generator; /* who made the report, e.g. "pyramask 0.1.0" (default
                              "pyramask") */
} export_settings;

void export_default_settings(export_settings *s);

/* "html" or "ipynb" -> *out; EXPORT_EINPUT for any other name. */
int export_format_parse(const char *name, export_format *out);

/* The handle: the run log open read-only and the sweep chosen. (Not `export`: that is a
 * C++ keyword, and the header is meant for C++ programs too.) */
typedef struct export_ctx export_ctx;

/* Opens the run log read-only, checks that it is a pyramask run log (schema version 1 or
 * 2), finds the sweep and checks that it has runs. On failure *out is still set when the
 * handle could be made, so that export_errmsg tells the details (file, sweep names);
 * close it either way. */
int export_open(export_ctx **out, const export_settings *s);

/* The sweep being reported (borrowed), NULL for the runs outside sweeps. */
const char *export_sweep(const export_ctx *e);

/* Renders the report in the settings' format (one read transaction: a consistent snapshot
 * even while runs are being logged). *out (NUL-terminated, *len bytes) must be freed with
 * free(). */
int export_render(export_ctx *e, char **out, size_t *len);

/* Renders and writes the report to path: a temporary file beside it, fsync, rename, fsync
 * of the directory, so that path is either the whole report or untouched. Refuses to
 * overwrite the run log. */
int export_write(export_ctx *e, const char *path);

/* The outcome of the handle's last call, as sqlite3_errmsg: every call that takes the handle
 * forgets the previous outcome, and every failure records its code and details (file, sweep
 * names); the details, or with none the code's name ("ok" after a success). For a NULL
 * handle (export_open could not make one) "out of memory". Never NULL; borrowed from e. */
const char *export_errmsg(const export_ctx *e);
/* A static name for an error code. Never NULL. */
const char *export_strerror(int rc);

/* NULL-safe; sets *e = NULL. */
void export_close(export_ctx **e);

#ifdef __cplusplus
}
#endif

#endif /* PYRAMASK_EXPORT_H */
