/* libmodel tests: the public header compiles on its own, first and alone, in C11.
 * (Built into the test program; it defines nothing the tests call.) */
#include "model.h"

const char *(*const model_header_compiles)(int) = model_strerror;
