/* fuzz_expfmt_om.c - libFuzzer target for the OpenMetrics 1.0 text parser. */
#define FUZZ_EXPFMT_FORMAT COLL_EXPFMT_OPENMETRICS
#include "fuzz_expfmt.h"
