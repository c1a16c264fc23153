/* markup.c: escaping untrusted text for XML, HTML and SVG, and cleaning it to valid UTF-8
 * for JSON: one decoder decides what is a character and what is replaced by U+FFFD. */
#include "markup.h"

#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* The length of the valid, allowed UTF-8 sequence at s (n bytes left), or 0 when the byte
 * at s is to be replaced by U+FFFD. */
static size_t next_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return (c >= 0x20 && c != 0x7F) || c == '\t' || c == '\n' || c == '\r';
    size_t len;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
        cp == 0xFFFF)
        return 0;
    return len;
}

/* Appends s[0..n) cleaned, with the five XML specials escaped when `escape`. */
static void emit(sqlite3_str *out, const char *s, size_t n, int escape)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* p[i - run .. i) is clean text not yet appended */
    while (i < n) {
        size_t len = next_char(p + i, n - i);
        const char *subst = NULL;
        if (!len)
            subst = replacement;
        else if (escape && len == 1)
            switch (p[i]) {
            case '&':
                subst = "&amp;";
                break;
            case '<':
                subst = "&lt;";
                break;
            case '>':
                subst = "&gt;";
                break;
            case '"':
                subst = "&quot;";
                break;
            case '\'':
                subst = "&#39;";
                break;
            }
        if (!subst) {
            i += len;
            run += len;
            continue;
        }
        sqlite3_str_append(out, (const char *)p + i - run, (int)run);
        sqlite3_str_appendall(out, subst);
        i += len ? len : 1;
        run = 0;
    }
    sqlite3_str_append(out, (const char *)p + i - run, (int)run);
}

char *export_mk_finish(sqlite3_str *b)
{
    int bad = sqlite3_str_errcode(b) != SQLITE_OK;
    char *s = sqlite3_str_finish(b);
    if (bad) {
        sqlite3_free(s);
        return NULL;
    }
    return s ? s : sqlite3_mprintf("%s", "");
}

void export_mk_escape(sqlite3_str *out, const char *s, size_t n)
{
    emit(out, s, n, 1);
}

void export_mk_escape_z(sqlite3_str *out, const char *s)
{
    if (s)
        emit(out, s, strlen(s), 1);
}

void export_mk_clean(sqlite3_str *out, const char *s, size_t n)
{
    emit(out, s, n, 0);
}

void export_mk_markdown(sqlite3_str *out, const char *s)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    export_mk_clean(b, s ? s : "", s ? strlen(s) : 0);
    char *c = export_mk_finish(b);
    size_t digits = c ? strspn(c, "0123456789") : 0;
    for (const char *p = c; p && *p; p++) {
        size_t at = (size_t)(p - c);
        int special = strchr("\\`*_[]<>|~&", *p) != NULL ||
                      (at == 0 && strchr("#-+=", *p)) || /* a heading, list or rule */
                      (at == digits && digits && (*p == '.' || *p == ')') &&
                       (!p[1] || p[1] == ' ' || p[1] == '\t')); /* "1. " a list */
        if (special)
            sqlite3_str_appendchar(out, 1, '\\');
        sqlite3_str_appendchar(out, 1, *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p);
    }
    sqlite3_free(c);
}

void export_mk_base64(sqlite3_str *out, const void *data, size_t n)
{
    static const char digit[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {digit[v >> 18 & 63], digit[v >> 12 & 63],
                     i + 1 < n ? digit[v >> 6 & 63] : '=', i + 2 < n ? digit[v & 63] : '='};
        sqlite3_str_append(out, q, 4);
    }
}

size_t export_mk_prefix(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    for (size_t k = 0; k < max && i < n; k++) {
        size_t len = next_char(p + i, n - i);
        i += len ? len : 1;
    }
    return i;
}

size_t export_mk_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, k = 0;
    for (; i < n; k++) {
        size_t len = next_char(p + i, n - i);
        i += len ? len : 1;
    }
    return k;
}
