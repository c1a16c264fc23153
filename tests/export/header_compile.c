/* notebooks-export tests: the public header compiles on its own, first and alone, in C11.
 * (Built into the test program; it defines nothing the tests call.) */
#include "export.h"

const char *(*const export_header_compiles)(int) = export_strerror;
