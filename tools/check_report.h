/*
 * check_report.h -- the drift report of `shadowsync check`
 * (check_report.c), written for tools/check.c.
 */
#ifndef SS_CHECK_REPORT_H
#define SS_CHECK_REPORT_H

#include <stdio.h>

#include "check.h"

enum ss_check_format { SS_CHECK_TEXT, SS_CHECK_JSON, SS_CHECK_HTML };

/* Write the results r[0..n) of a run that took seconds to f in format. */
void ss_check_report(FILE *f, int format, const struct ss_check_result *r, int n, double seconds);

#endif
