/* ipynb.c: the report as a Jupyter notebook (nbformat 4.5), every JSON value built by
 * SQLite's JSON functions: code cells that re-run the queries, their outputs filled in. */
#include "markup.h"
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct nb {
    struct report *r;
    char *cells; /* the JSON array of cells so far */
    int count;   /* execution count of the last code cell */
    int ncells;
};

/* Evaluates a one-value SELECT with arguments by format letters: t = text (NULL binds
 * NULL), i = int. Returns the value (sqlite3_malloc'd) or NULL with r->msg. */
static char *eval(struct report *r, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    char *out = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(r->msg, sizeof r->msg, "building the notebook: %s", sqlite3_errmsg(r->db));
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 'i') {
            sqlite3_bind_int(st, i + 1, va_arg(ap, int));
        } else {
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(st, i + 1, s, -1, SQLITE_STATIC);
        }
    }
    va_end(ap);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        out = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    if (!out)
        snprintf(r->msg, sizeof r->msg, "building the notebook: %s",
                 sqlite3_errcode(r->db) == SQLITE_NOMEM ? "out of memory"
                                                        : sqlite3_errmsg(r->db));
    sqlite3_finalize(st);
    return out;
}

/* Appends JSON value `item` to JSON array *array; frees item. 0 or -1. */
static int append(struct report *r, char **array, char *item)
{
    if (!item)
        return -1;
    char *next = eval(r, "SELECT json_insert(?1, '$[#]', json(?2))", "tt", *array, item);
    sqlite3_free(item);
    if (!next)
        return -1;
    sqlite3_free(*array);
    *array = next;
    return 0;
}

static int markdown(struct nb *n, char *source)
{
    if (!source)
        return -1;
    char id[32];
    snprintf(id, sizeof id, "cell-%d", ++n->ncells);
    char *cell = eval(n->r,
                      "SELECT json_object('cell_type', 'markdown', 'id', ?1, 'metadata', "
                      "json_object(), 'source', ?2)",
                      "tt", id, source);
    sqlite3_free(source);
    return append(n->r, &n->cells, cell);
}

static int code_cell(struct nb *n, const char *source, char *outputs)
{
    if (!outputs)
        return -1;
    char id[32];
    snprintf(id, sizeof id, "cell-%d", ++n->ncells);
    char *cell = eval(n->r,
                      "SELECT json_object('cell_type', 'code', 'id', ?1, "
                      "'execution_count', ?2, 'metadata', json_object(), 'source', ?3, "
                      "'outputs', json(?4))",
                      "tits", id, n->count, source, outputs);
    sqlite3_free(outputs);
    return append(n->r, &n->cells, cell);
}

/* Figure k of s as an HTML <img> of a data: URI. Viewers that clean inline SVG away (or
 * show it only in trusted notebooks) show an image: the notebook carries both forms. */
static char *svg_img(const struct section *s, int k)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    sqlite3_str_appendall(b, "<img alt=\"");
    export_mk_escape_z(b, s->title);
    sqlite3_str_appendall(b, "\" src=\"data:image/svg+xml;base64,");
    export_mk_base64(b, s->block[k].text, strlen(s->block[k].text));
    sqlite3_str_appendall(b, "\">");
    return export_mk_finish(b);
}

/* The outputs the section's code prints: its preformatted text (one stream), its figures,
 * then its table as the cell's result, in the order the code makes them. */
static char *outputs(struct nb *n, const struct section *s)
{
    struct report *r = n->r;
    char *out = sqlite3_mprintf("[]");
    sqlite3_str *stream = sqlite3_str_new(NULL);
    for (int k = 0; k < s->nblocks; k++) {
        const struct block *b = &s->block[k];
        if (b->kind != BLOCK_PRE)
            continue;
        if (b->caption)
            sqlite3_str_appendf(stream, "--- %s\n", b->caption);
        sqlite3_str_appendf(stream, "%s\n", b->text);
    }
    char *text = export_mk_finish(stream);
    int rc = out && text ? 0 : -1;
    if (!rc && *text)
        rc = append(r, &out,
                    eval(r,
                         "SELECT json_object('output_type', 'stream', 'name', "
                         "'stdout', 'text', ?1)",
                         "t", text));
    sqlite3_free(text);
    for (int k = 0; !rc && k < s->nblocks; k++)
        if (s->block[k].kind == BLOCK_SVG) {
            char *alt = sqlite3_mprintf("[figure: %s]", s->title), *img = svg_img(s, k);
            rc = alt && img ? append(r, &out,
                                     eval(r,
                                          "SELECT json_object('output_type', "
                                          "'display_data', 'metadata', json_object(), "
                                          "'data', json_object('image/svg+xml', ?1, "
                                          "'text/html', ?2, 'text/plain', ?3))",
                                          "ttt", s->block[k].text, img, alt))
                            : -1;
            sqlite3_free(alt);
            sqlite3_free(img);
        }
    for (int k = 0; !rc && k < s->nblocks; k++)
        if (s->block[k].kind == BLOCK_TABLE) {
            char *plain = export_xt_plain(s->block[k].table),
                 *html = export_xt_html(s->block[k].table);
            rc = plain && html ? append(r, &out,
                                        eval(r,
                                             "SELECT json_object('output_type', "
                                             "'execute_result', 'execution_count', ?1, "
                                             "'metadata', json_object(), 'data', json_object("
                                             "'text/plain', ?2, 'text/html', ?3))",
                                             "itt", n->count, plain, html))
                               : -1;
            sqlite3_free(plain);
            sqlite3_free(html);
        }
    if (rc) {
        sqlite3_free(out);
        return NULL;
    }
    return out;
}

static char *title_markdown(const struct report *r)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    if (r->sweep) {
        sqlite3_str_appendall(b, "# Sweep ");
        export_mk_markdown(b, r->sweep);
    } else {
        sqlite3_str_appendall(b, "# Runs outside sweeps");
    }
    sqlite3_str_appendall(b, "\n\nRun log ");
    export_mk_markdown(b, r->db_path);
    sqlite3_str_appendf(b, " (schema version %d), exported ", r->version);
    export_mk_markdown(b, r->exported_at);
    sqlite3_str_appendall(b, " by ");
    export_mk_markdown(b, r->generator);
    if (r->factors) {
        sqlite3_str_appendall(b, ". Factors: ");
        export_mk_markdown(b, r->factors);
    }
    sqlite3_str_appendall(b, ".\n\nEvery output below was computed when the notebook was "
                             "exported; running a cell asks the run log again (read-only) with "
                             "Python's sqlite3, and pandas and matplotlib when they are "
                             "installed.");
    return export_mk_finish(b);
}

char *export_render_ipynb(struct report *r)
{
    struct nb n = {r, sqlite3_mprintf("[]"), 0, 0};
    int rc = n.cells ? markdown(&n, title_markdown(r)) : -1;
    if (!rc) {
        n.count++;
        rc = code_cell(&n, r->setup_code, sqlite3_mprintf("[]"));
    }
    for (int i = 0; !rc && i < r->nsec; i++) {
        const struct section *s = &r->sec[i];
        sqlite3_str *md = sqlite3_str_new(NULL);
        sqlite3_str_appendall(md, "## ");
        export_mk_markdown(md, s->title);
        sqlite3_str_appendall(md, "\n\n");
        export_mk_markdown(md, s->intro);
        if (s->note) {
            sqlite3_str_appendall(md, "\n\n");
            export_mk_markdown(md, s->note);
        }
        rc = markdown(&n, export_mk_finish(md));
        if (!rc) {
            n.count++;
            rc = code_cell(&n, s->code, outputs(&n, s));
        }
    }
    char *doc = NULL;
    if (!rc)
        doc = eval(r,
                   "SELECT json_object('nbformat', 4, 'nbformat_minor', 5, 'metadata', "
                   "json_object('kernelspec', json_object('name', 'python3', 'display_name', "
                   "'Python 3', 'language', 'python'), 'language_info', json_object('name', "
                   "'python', 'pygments_lexer', 'ipython3'), 'pyramask', json_object('db', "
                   "?1, 'sweep', ?2, 'exported_at', ?3, 'generator', ?4, 'schema_version', "
                   "?5)), 'cells', json(?6)) || char(10)",
                   "ttttit", r->db_path, r->sweep, r->exported_at, r->generator, r->version,
                   n.cells);
    sqlite3_free(n.cells);
    if (!doc && !r->msg[0])
        snprintf(r->msg, sizeof r->msg, "out of memory");
    return doc;
}
