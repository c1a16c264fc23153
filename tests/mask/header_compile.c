/* libmask tests: the public header compiles on its own, first and alone, in C11.
 * (Built into the test program; it defines nothing the tests call.) */
#include "mask.h"

const mask_schedule_type *const *(*const mask_header_compiles)(void) = mask_schedule_types;
