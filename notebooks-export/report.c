/* report.c: query results as tables (cells as clean display text and numbers), their plain
 * text and HTML forms, and the report's lifecycle. */
#include "report.h"
#include "markup.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum {
    PLAIN_MAX_WIDTH = 60,   /* longer cells are shortened in the plain-text form */
    ALIGN_MAX_DECIMALS = 6, /* reals needing more keep their shortest form */
};

int export_xt_col(const struct xtable *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->name[c], name))
            return c;
    return -1;
}

const struct xcell *export_xt_at(const struct xtable *t, int row, int col)
{
    return &t->cell[(size_t)row * (size_t)t->ncols + (size_t)col];
}

double export_xt_num(const struct xtable *t, int row, const char *name)
{
    int c = export_xt_col(t, name);
    return c < 0 || row < 0 || row >= t->nrows ? NAN : export_xt_at(t, row, c)->num;
}

const char *export_xt_text(const struct xtable *t, int row, const char *name)
{
    int c = export_xt_col(t, name);
    return c < 0 || row < 0 || row >= t->nrows ? "" : export_xt_at(t, row, c)->text;
}

void export_xt_free(struct xtable *t)
{
    if (!t)
        return;
    for (int c = 0; t->name && c < t->ncols; c++)
        sqlite3_free(t->name[c]);
    for (size_t i = 0; t->cell && i < (size_t)t->nrows * (size_t)t->ncols; i++)
        sqlite3_free(t->cell[i].text);
    sqlite3_free(t->name);
    sqlite3_free(t->cell);
    sqlite3_free(t->numeric);
    memset(t, 0, sizeof *t);
}

/* Text as a new clean string (sqlite3_malloc'd). */
static char *clean(const char *s, size_t n)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    export_mk_clean(b, s, n);
    return export_mk_finish(b);
}

static int bind_params(struct report *r, sqlite3_stmt *st)
{
    int i = sqlite3_bind_parameter_index(st, ":sweep");
    if (i && (r->sweep ? sqlite3_bind_text(st, i, r->sweep, -1, SQLITE_STATIC)
                       : sqlite3_bind_null(st, i)))
        return -1;
    if ((i = sqlite3_bind_parameter_index(st, ":t")) &&
        sqlite3_bind_double(st, i, r->preview_t))
        return -1;
    if ((i = sqlite3_bind_parameter_index(st, ":limit")) &&
        sqlite3_bind_int(st, i, r->max_previews))
        return -1;
    return 0;
}

static int query_fail(struct report *r, sqlite3_stmt *st, const char *what)
{
    snprintf(r->msg, sizeof r->msg, "%s: %s", what, sqlite3_errmsg(r->db));
    sqlite3_finalize(st);
    return -1;
}

/* Shows the reals of each column with one number of decimals (the most any of them needs,
 * up to ALIGN_MAX_DECIMALS), so that they line up. */
static int align_decimals(struct xtable *t)
{
    for (int c = 0; c < t->ncols; c++) {
        int dec = 0;
        for (int i = 0; i < t->nrows && dec >= 0; i++) {
            const struct xcell *x = export_xt_at(t, i, c);
            if (x->type != SQLITE_FLOAT)
                continue;
            const char *dot = strchr(x->text, '.');
            if (strpbrk(x->text, "eEni")) /* 1e-07, nan, inf */
                dec = -1;
            else if (dot && (int)strlen(dot + 1) > dec)
                dec = (int)strlen(dot + 1);
        }
        if (dec <= 0 || dec > ALIGN_MAX_DECIMALS)
            continue;
        for (int i = 0; i < t->nrows; i++) {
            struct xcell *x = &t->cell[(size_t)i * (size_t)t->ncols + (size_t)c];
            if (x->type != SQLITE_FLOAT)
                continue;
            char *text = sqlite3_mprintf("%.*f", dec, x->num);
            if (!text)
                return -1;
            sqlite3_free(x->text);
            x->text = text;
        }
    }
    return 0;
}

int export_xt_query(struct report *r, const char *sql, struct xtable *t)
{
    memset(t, 0, sizeof *t);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK || bind_params(r, st))
        return query_fail(r, st, "reading the run log");
    int nc = sqlite3_column_count(st), cap = 0, rc;
    t->ncols = nc;
    t->name = sqlite3_malloc64((size_t)(nc ? nc : 1) * sizeof *t->name);
    t->numeric = sqlite3_malloc64((size_t)(nc ? nc : 1) * sizeof *t->numeric);
    if (!t->name || !t->numeric)
        goto nomem;
    for (int c = 0; c < nc; c++) {
        const char *name = sqlite3_column_name(st, c);
        t->name[c] = clean(name ? name : "", name ? strlen(name) : 0);
        t->numeric[c] = -1; /* unknown until a value is seen */
        if (!t->name[c])
            goto nomem;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->nrows == cap) {
            cap = cap ? cap * 2 : 16;
            struct xcell *cell =
                sqlite3_realloc64(t->cell, (size_t)cap * (size_t)nc * sizeof *cell);
            if (!cell)
                goto nomem;
            t->cell = cell;
        }
        struct xcell *row = t->cell + (size_t)t->nrows * (size_t)nc;
        memset(row, 0, (size_t)nc * sizeof *row);
        t->nrows++;
        for (int c = 0; c < nc; c++) {
            struct xcell *x = &row[c];
            x->type = sqlite3_column_type(st, c);
            x->num = NAN;
            switch (x->type) {
            case SQLITE_INTEGER:
                x->num = (double)sqlite3_column_int64(st, c);
                x->text = sqlite3_mprintf("%lld", (long long)sqlite3_column_int64(st, c));
                break;
            case SQLITE_FLOAT:
                x->num = sqlite3_column_double(st, c);
                x->text = sqlite3_mprintf("%.15g", x->num);
                break;
            case SQLITE_TEXT:
                x->text = clean((const char *)sqlite3_column_text(st, c),
                                (size_t)sqlite3_column_bytes(st, c));
                break;
            case SQLITE_BLOB:
                x->text = sqlite3_mprintf("(%d bytes)", sqlite3_column_bytes(st, c));
                break;
            default:
                x->text = sqlite3_mprintf("");
            }
            if (!x->text)
                goto nomem;
            if (x->type != SQLITE_NULL)
                t->numeric[c] = (t->numeric[c] != 0) &&
                                (x->type == SQLITE_INTEGER || x->type == SQLITE_FLOAT);
        }
    }
    if (rc != SQLITE_DONE) {
        export_xt_free(t);
        return query_fail(r, st, "reading the run log");
    }
    for (int c = 0; c < nc; c++)
        t->numeric[c] = t->numeric[c] == 1;
    sqlite3_finalize(st);
    return align_decimals(t) ? (snprintf(r->msg, sizeof r->msg, "out of memory"), -2) : 0;
nomem:
    export_xt_free(t);
    sqlite3_finalize(st);
    snprintf(r->msg, sizeof r->msg, "out of memory");
    return -2;
}

/* A cell in one line of at most PLAIN_MAX_WIDTH characters. */
static char *plain_cell(const char *s)
{
    size_t w = export_mk_width(s), n = strlen(s);
    int cut = w > PLAIN_MAX_WIDTH;
    if (cut)
        n = export_mk_prefix(s, PLAIN_MAX_WIDTH - 1);
    char *c = sqlite3_mprintf("%.*s%s", (int)n, s, cut ? "\xE2\x80\xA6" : "");
    for (char *p = c; p && *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return c;
}

static void pad(sqlite3_str *b, const char *s, size_t width, int right)
{
    size_t w = export_mk_width(s);
    if (right)
        sqlite3_str_appendchar(b, (int)(width - w), ' ');
    sqlite3_str_appendall(b, s);
    if (!right)
        sqlite3_str_appendchar(b, (int)(width - w), ' ');
}

char *export_xt_plain(const struct xtable *t)
{
    size_t n = (size_t)(t->nrows + 1) * (size_t)t->ncols;
    char **cells = sqlite3_malloc64((n ? n : 1) * sizeof *cells);
    size_t *width = sqlite3_malloc64((size_t)(t->ncols ? t->ncols : 1) * sizeof *width);
    sqlite3_str *b = sqlite3_str_new(NULL);
    int ok = cells && width;
    for (size_t i = 0; ok && i < n; i++) {
        size_t row = i / (size_t)t->ncols, col = i % (size_t)t->ncols;
        cells[i] = plain_cell(row ? t->cell[i - (size_t)t->ncols].text : t->name[col]);
        ok = cells[i] != NULL;
        n = ok ? n : i;
    }
    for (int c = 0; ok && c < t->ncols; c++) {
        width[c] = 0;
        for (int r = 0; r <= t->nrows; r++) {
            size_t w = export_mk_width(cells[(size_t)r * (size_t)t->ncols + (size_t)c]);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (int r = 0; ok && r <= t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            if (c)
                sqlite3_str_appendall(b, "  ");
            pad(b, cells[(size_t)r * (size_t)t->ncols + (size_t)c],
                c == t->ncols - 1 && !t->numeric[c] ? 0 : width[c], t->numeric[c]);
        }
        sqlite3_str_appendchar(b, 1, '\n');
    }
    for (size_t i = 0; cells && i < n; i++)
        sqlite3_free(cells[i]);
    sqlite3_free(cells);
    sqlite3_free(width);
    char *s = export_mk_finish(b);
    if (!ok) {
        sqlite3_free(s);
        return NULL;
    }
    return s;
}

char *export_xt_html(const struct xtable *t)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    sqlite3_str_appendall(b, "<table class=\"data\">\n<thead><tr>");
    for (int c = 0; c < t->ncols; c++) {
        sqlite3_str_appendall(b, t->numeric[c] ? "<th class=\"num\">" : "<th>");
        export_mk_escape_z(b, t->name[c]);
        sqlite3_str_appendall(b, "</th>");
    }
    sqlite3_str_appendall(b, "</tr></thead>\n<tbody>\n");
    for (int r = 0; r < t->nrows; r++) {
        sqlite3_str_appendall(b, "<tr>");
        for (int c = 0; c < t->ncols; c++) {
            sqlite3_str_appendall(b, t->numeric[c] ? "<td class=\"num\">" : "<td>");
            export_mk_escape_z(b, export_xt_at(t, r, c)->text);
            sqlite3_str_appendall(b, "</td>");
        }
        sqlite3_str_appendall(b, "</tr>\n");
    }
    sqlite3_str_appendall(b, "</tbody>\n</table>\n");
    return export_mk_finish(b);
}

void export_report_free(struct report *r)
{
    for (int i = 0; i < r->nsec; i++) {
        struct section *s = &r->sec[i];
        for (int k = 0; k < s->nblocks; k++) {
            export_xt_free(s->block[k].table);
            sqlite3_free(s->block[k].table);
            sqlite3_free(s->block[k].text);
            sqlite3_free(s->block[k].caption);
            for (int m = 0; m < s->block[k].nmarks; m++)
                sqlite3_free(s->block[k].marks[m]);
            sqlite3_free(s->block[k].marks);
        }
        sqlite3_free(s->sql);
        sqlite3_free(s->code);
        sqlite3_free(s->note);
    }
    sqlite3_free(r->db_path);
    sqlite3_free(r->exported_at);
    sqlite3_free(r->factors);
    sqlite3_free(r->setup_code);
    r->nsec = 0;
    r->db_path = r->exported_at = r->factors = r->setup_code = NULL;
}
