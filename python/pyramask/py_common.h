/* py_common.h: what the files of the `pyramask` extension share: CPython and numpy headers,
 * the exception, the types, and the conversions of Python arguments to C arrays. */
#ifndef PYRAMASK_PY_COMMON_H
#define PYRAMASK_PY_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API  NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL pyramask_ARRAY_API
#ifndef PYRAMASK_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include <gsl/gsl_rng.h>

#include "mask.h"
#include "tok.h"

/* pyramask.Error: a library error, its message the library's, its `code` the library's
 * (negative) code and its `library` "tok" or "mask". */
extern PyObject *pyr_error;
extern PyTypeObject pyr_rng_type, pyr_pyramid_type, pyr_corruption_type;

typedef struct {
    PyObject_HEAD gsl_rng *r;
} pyr_rng;

typedef struct {
    PyObject_HEAD tok *t;
} pyr_pyramid;

/* Raise pyramask.Error (MemoryError for an out-of-memory code) and return NULL. */
PyObject *pyr_raise(const char *library, int code, const char *msg);
PyObject *pyr_raisef(const char *library, int code, const char *fmt, ...);
PyObject *pyr_tok_error(int rc, const tok_err *e);
PyObject *pyr_mask_error(int rc, const mask *m, const char *where);

/* The generator of an Rng argument (borrowed); NULL with TypeError otherwise. */
gsl_rng *pyr_rng_of(PyObject *o);

/* A text argument as bytes: str (encoded as UTF-8) or any bytes-like object. Fills view;
 * release with pyr_text_release. Returns 0, or -1 with an exception set. */
typedef struct {
    Py_buffer view;
    PyObject *tmp;
    int held;
} pyr_text;
int pyr_text_get(PyObject *o, pyr_text *t, const char *what);
void pyr_text_release(pyr_text *t);

/* An integer array argument as a C-contiguous int32 array of ndim in [mind, maxd]: values
 * must fit in int32 (ValueError otherwise), floats are refused (TypeError). New reference or
 * NULL with an exception set. */
PyArrayObject *pyr_int32_array(PyObject *o, int mind, int maxd, const char *what);
/* The same for float64 and float32 (any real input). */
PyArrayObject *pyr_float_array(PyObject *o, int type, int mind, int maxd, const char *what);

int pyr_add_pyramid(PyObject *module);
int pyr_add_corruption(PyObject *module);

#endif
