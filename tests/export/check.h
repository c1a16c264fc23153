/* notebooks-export tests: assertions that print what was expected and what came, and the
 * test groups that test_main.c runs by name. */
#ifndef PYRAMASK_TESTS_EXPORT_CHECK_H
#define PYRAMASK_TESTS_EXPORT_CHECK_H

#include "../check.h"
#include <stdio.h>
#include <string.h>

void test_markup(void);
void test_svgplot(void);
void test_report(void);

#endif
