/* markup.h: untrusted text (any bytes from the run log) made safe for markup: XML/HTML
 * escaping, UTF-8 cleaning for JSON, and code-point counts for layout. Private. */
#ifndef PYRAMASK_EXPORT_MARKUP_H
#define PYRAMASK_EXPORT_MARKUP_H

#include <sqlite3.h>
#include <stddef.h>

/* Finishes a string built with sqlite3_str (sqlite3_free it): "" when nothing was appended
 * (where sqlite3_str_finish gives NULL), NULL only when out of memory. */
char *export_mk_finish(sqlite3_str *b);

/* Appends s[0..n) to out as XML/HTML text, safe both between tags and inside a quoted
 * attribute: & < > " ' become entities; invalid UTF-8 (each bad byte), the C0 controls but
 * tab, newline and carriage return, DEL, and U+FFFE/U+FFFF become U+FFFD (none of them may
 * appear in XML 1.0, which SVG is). */
void export_mk_escape(sqlite3_str *out, const char *s, size_t n);
/* The same for a NUL-terminated string; NULL appends nothing. */
void export_mk_escape_z(sqlite3_str *out, const char *s);

/* Appends s[0..n) cleaned as export_mk_escape cleans it, but unescaped (for JSON strings, plain
 * text): the result is valid UTF-8 without control characters but \t \n \r. */
void export_mk_clean(sqlite3_str *out, const char *s, size_t n);

/* Appends s as Markdown text that renders as itself (CommonMark, GitHub tables): cleaned,
 * line breaks and tabs made spaces, and backslash-escaped: \ ` * _ [ ] < > | ~ & anywhere,
 * and what would start a heading, list or rule at its start (# - + =, "1. " "1) "). */
void export_mk_markdown(sqlite3_str *out, const char *s);

/* Appends n bytes as base64 (RFC 4648, with padding), for data: URIs. */
void export_mk_base64(sqlite3_str *out, const void *data, size_t n);

/* Code points in the cleaned form of s (its width in characters, for layout). */
size_t export_mk_width(const char *s);

/* The byte length of s's first `max` code points (of its cleaned form: every invalid byte
 * counts as one). */
size_t export_mk_prefix(const char *s, size_t max);

#endif
