/* fuzz_expfmt_text.c - libFuzzer target for the Prometheus text format 0.0.4 parser. */
#define FUZZ_EXPFMT_FORMAT COLL_EXPFMT_PROMETHEUS
#include "fuzz_expfmt.h"
