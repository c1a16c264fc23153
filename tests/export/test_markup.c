/* notebooks-export tests: escaping for HTML/SVG, cleaning for JSON, Markdown, base64 and the
 * character counts used for layout, on hostile and malformed input. */
#include "check.h"
#include "markup.h"

#include <stdlib.h>

typedef void (*emit_fn)(sqlite3_str *, const char *, size_t);

/* f applied to n bytes of s, as a new string (free it). */
static char *apply(emit_fn f, const char *s, size_t n)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    f(b, s, n);
    char *r = export_mk_finish(b);
    char *copy = r ? strdup(r) : NULL;
    sqlite3_free(r);
    return copy;
}

#define CHECK_EMIT(f, input, n, expected) \
    do {                                  \
        char *got_ = apply(f, input, n);  \
        CHECK_STR(expected, got_);        \
        free(got_);                       \
    } while (0)

#define FFFD "\xEF\xBF\xBD"

static void test_escape(void)
{
    CHECK_EMIT(export_mk_escape, "", 0, "");
    CHECK_EMIT(export_mk_escape, "plain text", 10, "plain text");
    CHECK_EMIT(export_mk_escape, "<script>alert(\"x\" & 'y')</script>", 33,
               "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
    CHECK_EMIT(export_mk_escape, "&amp;", 5, "&amp;amp;"); /* never unescapes */
    /* tab, newline and carriage return stay; other C0 controls and DEL do not */
    CHECK_EMIT(export_mk_escape, "a\tb\nc\rd", 7, "a\tb\nc\rd");
    CHECK_EMIT(export_mk_escape,
               "a\x01"
               "b\x1b[0m\x7f",
               8, "a" FFFD "b" FFFD "[0m" FFFD);
    /* embedded NUL: n counts it */
    CHECK_EMIT(export_mk_escape, "a\0b", 3, "a" FFFD "b");
    /* valid UTF-8 of every length passes */
    CHECK_EMIT(export_mk_escape, "\xC3\xA9\xE2\x80\xA6\xF0\x9F\x98\x80 \xC2\xB7", 12,
               "\xC3\xA9\xE2\x80\xA6\xF0\x9F\x98\x80 \xC2\xB7");
    /* malformed: lone continuation, truncated sequence, overlong, surrogate, > U+10FFFF,
     * noncharacters U+FFFE and U+FFFF, 0xC0/0xC1, 0xF5.. */
    CHECK_EMIT(export_mk_escape, "\x80", 1, FFFD);
    CHECK_EMIT(export_mk_escape, "a\xC3", 2, "a" FFFD);
    CHECK_EMIT(export_mk_escape, "\xE2\x80<", 3, FFFD FFFD "&lt;");
    CHECK_EMIT(export_mk_escape, "\xC0\xAF", 2, FFFD FFFD);
    CHECK_EMIT(export_mk_escape, "\xE0\x80\xAF", 3, FFFD FFFD FFFD);
    CHECK_EMIT(export_mk_escape, "\xED\xA0\x80", 3, FFFD FFFD FFFD);
    CHECK_EMIT(export_mk_escape, "\xF4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD);
    CHECK_EMIT(export_mk_escape, "\xEF\xBF\xBE\xEF\xBF\xBF", 6, FFFD FFFD FFFD FFFD FFFD FFFD);
    CHECK_EMIT(export_mk_escape, "\xF5\x80", 2, FFFD FFFD);
    /* only n bytes are read */
    CHECK_EMIT(export_mk_escape, "ab<cd", 2, "ab");
    /* the cleaned form is escaped again to the same: escaping is idempotent on its output's
     * text, which has no specials left */
    char *once = apply(export_mk_escape, "\xff<&>\"'", 6);
    char *twice = once ? apply(export_mk_clean, once, strlen(once)) : NULL;
    CHECK(once && twice && !strcmp(once, twice), "clean(escape(x)) changed: '%s' -> '%s'",
          once ? once : "", twice ? twice : "");
    free(once);
    free(twice);
    sqlite3_str *b = sqlite3_str_new(NULL);
    export_mk_escape_z(b, NULL);
    export_mk_escape_z(b, "<");
    char *z = export_mk_finish(b);
    CHECK_STR("&lt;", z);
    sqlite3_free(z);
}

static void test_clean(void)
{
    CHECK_EMIT(export_mk_clean, "<a href='x'>&</a>", 17, "<a href='x'>&</a>");
    CHECK_EMIT(export_mk_clean, "ok\xff\x02\n", 5, "ok" FFFD FFFD "\n");
    CHECK_INT(5, export_mk_width("h\xC3\xA9llo"));
    CHECK_INT(3, export_mk_width("a\xffz"));
    CHECK_INT(0, export_mk_width(""));
    CHECK_INT(3, export_mk_prefix("h\xC3\xA9llo", 2)); /* "h" + the 2 bytes of e-acute */
    CHECK_INT(2, export_mk_prefix("ab", 10));
    CHECK_INT(1, export_mk_prefix("\xE2\x80", 1)); /* a bad byte counts as one character */
}

static char *markdown(const char *s)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    export_mk_markdown(b, s);
    char *r = export_mk_finish(b), *copy = r ? strdup(r) : NULL;
    sqlite3_free(r);
    return copy;
}

static void test_markdown(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain words, (kept) 95% sure.", "plain words, (kept) 95% sure."},
        {"a_b *c* `d` [e](f) <g> |h| ~i~ &j \\k",
         "a\\_b \\*c\\* \\`d\\` \\[e\\](f) \\<g\\> \\|h\\| \\~i\\~ \\&j \\\\k"},
        {"# heading", "\\# heading"},
        {"- item", "\\- item"},
        {"+ item", "\\+ item"},
        {"12. item", "12\\. item"},
        {"3) item", "3\\) item"},
        {"3.5 bits", "3.5 bits"},   /* not a list: no space after the dot */
        {"x # y - z", "x # y - z"}, /* only at the start */
        {"two\nlines\there", "two lines here"},
        {"\xff", FFFD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = markdown(cases[i].in);
        CHECK_STR(cases[i].out, got);
        free(got);
    }
}

static void test_base64(void)
{
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}}; /* RFC 4648, section 10 */
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        sqlite3_str *b = sqlite3_str_new(NULL);
        export_mk_base64(b, vec[i][0], strlen(vec[i][0]));
        char *got = export_mk_finish(b);
        CHECK_STR(vec[i][1], got);
        sqlite3_free(got);
    }
    sqlite3_str *b = sqlite3_str_new(NULL);
    export_mk_base64(b, "\xff\xfe\x00", 3);
    char *got = export_mk_finish(b);
    CHECK_STR("//4A", got);
    sqlite3_free(got);
}

void test_markup(void)
{
    test_escape();
    test_clean();
    test_markdown();
    test_base64();
}
