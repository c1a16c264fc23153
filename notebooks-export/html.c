/* html.c: the report as one standalone HTML page: inline CSS and SVG, no scripts, and a
 * content security policy that lets the page load nothing from anywhere. */
#include "markup.h"
#include "report.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char css[] =
    "body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "color:#1d1d1f;background:#fafafa;margin:0}\n"
    "main{max-width:1080px;margin:0 auto;padding:24px 28px 64px;background:#fff;"
    "box-shadow:0 0 0 1px #e6e6e6}\n"
    "h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:36px 0 6px;"
    "padding-top:12px;border-top:1px solid #e6e6e6}h3{font-size:14px;margin:18px 0 4px;"
    "color:#333}\n"
    ".meta{color:#555;margin:0 0 12px}.meta code{font-size:13px}\n"
    "nav{font-size:14px;margin:8px 0 0}nav a{margin-right:14px;color:#1f5fa8;"
    "text-decoration:none}\n"
    "p.intro{max-width:820px;color:#333}p.note{color:#8a5a00;background:#fff8e6;"
    "padding:8px 12px;border-left:3px solid #e0a800}\n"
    ".scroll{overflow-x:auto;margin:10px 0}\n"
    "table.data{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}\n"
    "table.data th,table.data td{padding:3px 10px;border-bottom:1px solid #e6e6e6;"
    "text-align:left;vertical-align:top;white-space:nowrap}\n"
    "table.data td{max-width:420px;overflow:hidden;text-overflow:ellipsis}\n"
    "table.data th{background:#f3f4f6;border-bottom:1px solid #ccc}\n"
    "table.data tbody tr:nth-child(even){background:#fafbfc}\n"
    "table.data .num{text-align:right}\n"
    "figure{margin:12px 0}figure svg{max-width:100%;height:auto;display:block}\n"
    "pre{background:#f6f8fa;border:1px solid #e6e6e6;padding:10px 12px;font-size:12.5px;"
    "line-height:1.45;white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0 12px}\n"
    "details{margin:8px 0}summary{cursor:pointer;color:#555;font-size:13px}\n"
    "details pre{font-size:12px}\n"
    "footer{color:#777;font-size:12px;margin-top:40px}\n"
    "mark{color:#000;border-radius:2px;padding:0 1px}\n"
    "mark.m0{background:#aec7e8}mark.m1{background:#ffbb78}mark.m2{background:#98df8a}"
    "mark.m3{background:#ff9896}mark.m4{background:#c5b0d5}mark.m5{background:#c49c94}"
    "mark.m6{background:#f7b6d2}mark.m7{background:#c7c7c7}mark.m8{background:#dbdb8d}"
    "mark.m9{background:#9edae5}\n";

static void text(sqlite3_str *b, const char *open, const char *s, const char *close)
{
    sqlite3_str_appendall(b, open);
    export_mk_escape_z(b, s);
    sqlite3_str_appendall(b, close);
}

/* The length of the marker "[name]" or "[name*n]" at p, or 0. */
static size_t marker_len(const char *p, const char *name)
{
    size_t n = strlen(name);
    if (!n || p[0] != '[' || strncmp(p + 1, name, n))
        return 0;
    const char *q = p + 1 + n;
    if (*q == '*' && isdigit((unsigned char)q[1]))
        for (q++; isdigit((unsigned char)*q); q++)
            ;
    return *q == ']' ? (size_t)(q + 1 - p) : 0;
}

/* Appends text escaped, each marker of one of the names highlighted in its type's colour. */
static void marked_text(sqlite3_str *b, const char *s, char *const *names, int n)
{
    const char *run = s; /* text not yet appended */
    for (const char *p = s; *p;) {
        size_t len = 0;
        int k = 0;
        for (; *p == '[' && k < n && !len; k++)
            len = marker_len(p, names[k]);
        if (!len) {
            p++;
            continue;
        }
        export_mk_escape(b, run, (size_t)(p - run));
        sqlite3_str_appendf(b, "<mark class=\"m%d\">", (k - 1) % 10);
        export_mk_escape(b, p, len);
        sqlite3_str_appendall(b, "</mark>");
        p += len;
        run = p;
    }
    export_mk_escape_z(b, run);
}

/* Appends section s; -1 when out of memory. */
static int section(sqlite3_str *b, const struct section *s)
{
    sqlite3_str_appendf(b, "<section id=\"%s\">\n", s->id);
    text(b, "<h2>", s->title, "</h2>\n");
    text(b, "<p class=\"intro\">", s->intro, "</p>\n");
    if (s->note)
        text(b, "<p class=\"note\">", s->note, "</p>\n");
    for (int k = 0; k < s->nblocks; k++) {
        const struct block *x = &s->block[k];
        switch (x->kind) {
        case BLOCK_TABLE: {
            char *t = export_xt_html(x->table);
            if (!t)
                return -1;
            sqlite3_str_appendall(b, "<div class=\"scroll\">\n");
            sqlite3_str_appendall(b, t);
            sqlite3_str_appendall(b, "</div>\n");
            sqlite3_free(t);
            break;
        }
        case BLOCK_SVG: /* made by svgplot.c, its text escaped there */
            sqlite3_str_appendall(b, "<figure>\n");
            sqlite3_str_appendall(b, x->text);
            sqlite3_str_appendall(b, "</figure>\n");
            break;
        case BLOCK_PRE:
            if (x->caption)
                text(b, "<h3>", x->caption, "</h3>\n");
            sqlite3_str_appendall(b, "<pre>");
            marked_text(b, x->text, x->marks, x->nmarks);
            sqlite3_str_appendall(b, "</pre>\n");
            break;
        }
    }
    if (s->sql)
        text(b, "<details><summary>Query</summary><pre>", s->sql, "</pre></details>\n");
    sqlite3_str_appendall(b, "</section>\n");
    return 0;
}

char *export_render_html(struct report *r)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    sqlite3_str_appendall(
        b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
           "'none'; style-src 'unsafe-inline'; img-src data:\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, "
           "initial-scale=1\">\n<title>pyramask: ");
    if (r->sweep)
        text(b, "sweep ", r->sweep, "");
    else
        sqlite3_str_appendall(b, "runs outside sweeps");
    sqlite3_str_appendf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n<header>\n",
                        css);
    if (r->sweep)
        text(b, "<h1>Sweep <code>", r->sweep, "</code></h1>\n");
    else
        sqlite3_str_appendall(b, "<h1>Runs outside sweeps</h1>\n");
    text(b, "<p class=\"meta\">Run log <code>", r->db_path, "</code>");
    sqlite3_str_appendf(b, " (schema version %d)", r->version);
    text(b, " · exported ", r->exported_at, "");
    if (r->factors)
        text(b, " · factors: ", r->factors, "");
    sqlite3_str_appendall(b, "</p>\n<nav>");
    for (int i = 0; i < r->nsec; i++) {
        sqlite3_str_appendf(b, "<a href=\"#%s\">", r->sec[i].id);
        export_mk_escape_z(b, r->sec[i].title);
        sqlite3_str_appendall(b, "</a>");
    }
    sqlite3_str_appendall(b, "</nav>\n</header>\n");
    int oom = 0;
    for (int i = 0; i < r->nsec && !oom; i++)
        oom = section(b, &r->sec[i]);
    text(b, "<footer>Made by ", r->generator, "");
    sqlite3_str_appendall(b, " from the run log alone; every table and figure comes from the "
                             "query shown under it.</footer>\n</main>\n</body>\n</html>\n");
    if (oom || sqlite3_str_errcode(b)) {
        sqlite3_free(sqlite3_str_finish(b));
        snprintf(r->msg, sizeof r->msg, "out of memory");
        return NULL;
    }
    return export_mk_finish(b);
}
