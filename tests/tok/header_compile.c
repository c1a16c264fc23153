/* libtok tests: the public header compiles on its own, first and alone, in C11.
 * (Built into the test program; it defines nothing the tests call.) */
#include "tok.h"

const char *(*const tok_header_compiles)(int) = tok_strerror;
