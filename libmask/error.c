/* libmask error codes: mask_strerror and the per-handle message. Every failing call records
 * its code and why through mask_fail; every call that returns a code first clears the last. */
#include <stdarg.h>
#include <stdio.h>

#include "mask_internal.h"

const char *mask_strerror(int rc)
{
    switch (rc) {
    case MASK_OK:
        return "ok";
    case MASK_E_NOMEM:
        return "out of memory";
    case MASK_E_ARG:
        return "invalid argument";
    case MASK_E_NAME:
        return "unknown name";
    case MASK_E_RANGE:
        return "value out of range";
    case MASK_E_WEIGHT:
        return "negative or non-finite weight";
    case MASK_E_K:
        return "too few mask types for the policy";
    case MASK_E_RULES:
        return "bad rule file";
    case MASK_E_IO:
        return "cannot read file";
    case MASK_E_INPUT:
        return "inconsistent sequence input";
    case MASK_E_STATE:
        return "call out of order";
    case MASK_E_NUMERIC:
        return "numeric method failed";
    default:
        return "unknown error code";
    }
}

void mask_clear_error(mask *m)
{
    if (m) {
        m->errmsg[0] = '\0';
        m->errcode = MASK_OK;
    }
}

int mask_fail(mask *m, int rc, const char *fmt, ...)
{
    if (m) {
        m->errcode = rc;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->errmsg, sizeof m->errmsg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int mask_fail_buf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *mask_errmsg(const mask *m)
{
    if (!m)
        return "no handle (out of memory)";
    return m->errmsg[0] ? m->errmsg : mask_strerror(m->errcode);
}
