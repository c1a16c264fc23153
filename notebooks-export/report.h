/* report.h: the report a run log makes, before it is rendered: sections with their query,
 * the notebook's Python for it, and blocks (tables, SVG charts, preformatted text). Private. */
#ifndef PYRAMASK_EXPORT_REPORT_H
#define PYRAMASK_EXPORT_REPORT_H

#include <sqlite3.h>

/* A query's result: every cell as display text (clean UTF-8) and, for numbers, its value. */
struct xcell {
    int type;   /* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL */
    double num; /* the value of a number, else NaN */
    char *text; /* "" for NULL */
};
struct xtable {
    int ncols, nrows;
    char **name;        /* (ncols) column names */
    struct xcell *cell; /* (nrows, ncols) */
    int *numeric;       /* (ncols) every non-NULL value is a number: right-aligned */
};
/* Column index by name, or -1; cell (row, column). */
int export_xt_col(const struct xtable *t, const char *name);
const struct xcell *export_xt_at(const struct xtable *t, int row, int col);
double export_xt_num(const struct xtable *t, int row, const char *name);       /* NaN if none */
const char *export_xt_text(const struct xtable *t, int row, const char *name); /* "" if none */
void export_xt_free(struct xtable *t);

enum block_kind { BLOCK_TABLE, BLOCK_SVG, BLOCK_PRE };
struct block {
    enum block_kind kind;
    struct xtable *table; /* BLOCK_TABLE */
    char *text;           /* BLOCK_SVG: the <svg>; BLOCK_PRE: preformatted text */
    char *caption;        /* BLOCK_PRE: a heading line */
    char **marks;         /* BLOCK_PRE: names shown as [name] or [name*n] to highlight */
    int nmarks;
};

enum { REPORT_MAX_BLOCKS = 64 };
struct section {
    const char *id, *title, *intro; /* static text: an anchor, a heading, a paragraph */
    char *sql;                      /* the main query, shown beside the results */
    char *code;                     /* the notebook's Python cell */
    char *note;                     /* shown when there is nothing to show, else NULL */
    struct block block[REPORT_MAX_BLOCKS];
    int nblocks;
};

enum { REPORT_MAX_SECTIONS = 16 };
struct report {
    sqlite3 *db;           /* the run log, read-only (borrowed) */
    const char *sweep;     /* the sweep's name, NULL = the lone runs */
    const char *generator; /* "pyramask 0.1.0", in the page's footer and notebook's metadata */
    char *db_path;         /* absolute */
    char *exported_at;     /* "2024-05-01 12:00:00 UTC" */
    char *factors;         /* the factor keys, "mask.structure · mask.types", or NULL */
    int version;           /* the log's schema version */
    int max_previews;
    double preview_t;
    char *setup_code; /* the notebook's first code cell */
    struct section sec[REPORT_MAX_SECTIONS];
    int nsec;
    char msg[512]; /* why building failed */
};

/* Runs sql with :sweep, :t and :limit bound from r. 0, or -1 with r->msg. */
int export_xt_query(struct report *r, const char *sql, struct xtable *out);

/* Builds every section (sections.c). 0, -1 with r->msg (a query failed), or -2 (memory). */
int export_report_build(struct report *r);
void export_report_free(struct report *r);

/* The table as aligned plain text, and as an HTML <table> (sqlite3_malloc'd; NULL when out
 * of memory). */
char *export_xt_plain(const struct xtable *t);
char *export_xt_html(const struct xtable *t);

/* Renderers: the whole document, sqlite3_malloc'd, or NULL (r->msg says why). */
char *export_render_html(struct report *r);
char *export_render_ipynb(struct report *r);

#endif
