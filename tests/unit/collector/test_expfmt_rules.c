/*
 * test_expfmt_rules.c - verdicts of the parser, strict and lenient, for each
 * class of rule of the two formats, with the line and column of each error.
 *
 * Strict 0.0.4 follows `promtool check metrics` (prometheus/common's text
 * parser); strict OpenMetrics follows the spec and its test suite; lenient
 * mode follows Prometheus 2.42's scrape parsers. Every lenient verdict below
 * was checked against a real Prometheus 2.42 scraping each input over HTTP
 * (rows marked "Prometheus 2.42 scrape" were taken from that run).
 */
#include "tests.h"

#include "collector/expfmt.h"

#define P COLL_EXPFMT_PROMETHEUS
#define O COLL_EXPFMT_OPENMETRICS
#define S COLL_EXPFMT_STRICT
#define L 0u

struct rule_case {
    enum coll_expfmt_format fmt;
    unsigned flags;
    int valid;
    uint32_t line, col; /* of the error when invalid */
    const char *what;
    const char *in;
    size_t len;
};

static const struct rule_case cases[] = {
    {P, S, 1, 0, 0, "prom: an empty input is valid", "", 0},
    {P, S, 1, 0, 0, "prom: blank lines only", "\n  \n\t\n", 6},
    {P, S, 0, 1, 4, "prom: last line without newline", "a 1", 3},
    {P, L, 1, 0, 0, "prom: last line without newline", "a 1", 3},
    {P, S, 1, 0, 0, "prom: trailing blanks after the last newline", "a 1\n   ", 7},
    {P, S, 0, 2, 4, "prom: comment without final newline", "a 1\n# c", 7},
    {P, S, 1, 0, 0, "prom: comments and HELP with no text",
     "# just a comment\n# HELP\n# HELP m\n#\n", 35},
    {P, S, 0, 1, 1, "prom: invalid metric name", "@a 1\n", 5},
    {P, L, 0, 1, 1, "prom: invalid metric name", "@a 1\n", 5},
    {P, S, 0, 1, 1, "prom: no metric name", "{a=\"b\"} 1\n", 10},
    {P, S, 0, 1, 2, "prom: missing value", "a\n", 2},
    {P, L, 0, 1, 2, "prom: missing value", "a\n", 2},
    {P, S, 0, 1, 3, "prom: value not a float", "a b\n", 4},
    {P, S, 0, 1, 3, "prom: hex value", "a 0x1p3\n", 8},
    {P, L, 0, 1, 3, "prom: hex value", "a 0x1p3\n", 8},
    {P, S, 0, 1, 3, "prom: underscore in value", "a 1_000\n", 8},
    {P, S, 0, 1, 3, "prom: value overflow", "a 1e999\n", 8},
    {P, S, 0, 1, 3, "prom: signed NaN", "a -NaN\n", 7},
    {P, S, 0, 1, 5, "prom: float timestamp", "a 1 1.5\n", 8},
    {P, L, 0, 1, 6, "prom: float timestamp", "a 1 1.5\n", 8},
    {P, S, 1, 0, 0, "prom: negative timestamp", "a 1 -5\n", 7},
    {P, L, 0, 1, 5, "prom: negative timestamp (scraper: digits only)", "a 1 -5\n", 7},
    {P, S, 0, 1, 5, "prom: timestamp out of int64", "a 1 9223372036854775808\n", 24},
    {P, S, 0, 1, 6, "prom: text after timestamp", "a 1 2 3\n", 8},
    {P, L, 0, 1, 7, "prom: text after timestamp", "a 1 2 3\n", 8},
    {P, S, 0, 1, 5, "prom: trailing blank after value", "a 1 \n", 5},
    {P, L, 1, 0, 0, "prom: trailing blank after value", "a 1 \n", 5},
    {P, S, 0, 1, 6, "prom: invalid escape in label value", "a{x=\"\\t\"} 1\n", 12},
    {P, L, 1, 0, 0, "prom: invalid escape in label value", "a{x=\"\\t\"} 1\n", 12},
    {P, S, 0, 1, 7, "prom: newline in label value", "a{x=\"1\n2\"} 1\n", 13},
    {P, L, 1, 0, 0, "prom: newline in label value", "a{x=\"1\n2\"} 1\n", 13},
    {P, S, 0, 1, 10, "prom: unterminated label value", "a{x=\"1} 1\n", 10},
    {P, L, 0, 2, 1, "prom: unterminated label value", "a{x=\"1} 1\n", 10},
    {P, S, 0, 1, 5, "prom: unquoted label value", "a{x=1} 1\n", 9},
    {P, S, 0, 1, 4, "prom: missing equals", "a{x} 1\n", 7},
    {P, S, 0, 1, 3, "prom: invalid label name", "a{1x=\"1\"} 1\n", 12},
    {P, S, 0, 1, 8, "prom: junk after label value", "a{x=\"1\"+} 1\n", 12},
    {P, S, 0, 1, 9, "prom: missing comma", "a{x=\"1\" y=\"2\"} 1\n", 17},
    {P, L, 1, 0, 0, "prom: missing comma", "a{x=\"1\" y=\"2\"} 1\n", 17},
    {P, S, 1, 0, 0, "prom: trailing comma and blanks", "a { x = \"1\" , } 1\n", 18},
    {P, S, 0, 1, 1, "prom: duplicate label", "a{x=\"1\",x=\"2\"} 1\n", 17},
    {P, L, 0, 1, 1, "prom: duplicate label", "a{x=\"1\",x=\"2\"} 1\n", 17},
    {P, S, 0, 1, 3, "prom: reserved __name__ label", "a{__name__=\"b\"} 1\n", 18},
    {P, L, 0, 1, 3, "prom: reserved __name__ label", "a{__name__=\"b\"} 1\n", 18},
    {P, S, 0, 1, 6, "prom: invalid UTF-8 in label value",
     "a{x=\"\xff"
     "\"} 1\n",
     11},
    {P, L, 0, 1, 6, "prom: invalid UTF-8 in label value",
     "a{x=\"\xff"
     "\"} 1\n",
     11},
    {P, S, 0, 1, 6, "prom: overlong UTF-8",
     "a{x=\"\xc0"
     "\xaf"
     "\"} 1\n",
     12},
    {P, S, 0, 1, 6, "prom: UTF-8 surrogate",
     "a{x=\"\xed"
     "\xa0"
     "\x80"
     "\"} 1\n",
     13},
    {P, S, 1, 0, 0, "prom: NUL in label value",
     "a{x=\"\x00"
     "\"} 1\n",
     11},
    {P, S, 0, 1, 4, "prom: NUL in label name",
     "a{x\x00"
     "=\"1\"} 1\n",
     12},
    {P, S, 0, 1, 5, "prom: NUL after timestamp",
     "a 1 2\x00"
     "\n",
     7},
    {P, S, 0, 2, 8, "prom: second HELP", "# HELP a x\n# HELP a y\n", 22},
    {P, L, 1, 0, 0, "prom: second HELP", "# HELP a x\n# HELP a y\n", 22},
    {P, S, 0, 2, 8, "prom: second TYPE", "# TYPE a gauge\n# TYPE a gauge\n", 30},
    {P, S, 0, 2, 8, "prom: TYPE after samples", "a 1\n# TYPE a gauge\n", 19},
    {P, L, 1, 0, 0, "prom: TYPE after samples", "a 1\n# TYPE a gauge\n", 19},
    {P, S, 0, 3, 8, "prom: TYPE of a summary after its _count",
     "# TYPE s summary\ns_count 1\n# TYPE s_count gauge\n", 48},
    {P, S, 0, 1, 10, "prom: unknown TYPE", "# TYPE a gaugehistogram\n", 24},
    {P, S, 1, 0, 0, "prom: TYPE is case-insensitive in promtool", "# TYPE a COUNTER\na 1\n", 21},
    {P, L, 0, 1, 10, "prom: TYPE is case-sensitive in the scraper", "# TYPE a COUNTER\na 1\n", 21},
    {P, S, 0, 1, 9, "prom: invalid name in TYPE", "# TYPE a-b counter\n", 19},
    {P, L, 0, 1, 9, "prom: no name in TYPE", "# TYPE  \n", 9},
    {P, S, 0, 1, 11, "prom: invalid escape in HELP", "# HELP a x\\ty\n", 14},
    {P, L, 1, 0, 0, "prom: invalid escape in HELP", "# HELP a x\\ty\n", 14},
    {P, S, 1, 0, 0, "prom: invalid UTF-8 in HELP (promtool does not check)",
     "# HELP a \xff"
     "\n",
     11},
    {P, L, 0, 1, 10, "prom: invalid UTF-8 in HELP",
     "# HELP a \xff"
     "\n",
     11},
    /* utf8_valid skips 8 ASCII bytes of HELP at a time: bad bytes after and within a step. */
    {P, L, 0, 1, 10, "prom: invalid UTF-8 after 10 ASCII bytes of HELP",
     "# HELP a abcdefghij\xff"
     "\n",
     21},
    {P, L, 0, 1, 10, "prom: invalid UTF-8 as the 16th byte of HELP",
     "# HELP a abcdefghijklmno\xff"
     "\n",
     26},
    {P, L, 0, 1, 10, "prom: UTF-8 surrogate after 8 ASCII bytes of HELP",
     "# HELP a abcdefgh\xed"
     "\xa0"
     "\x80"
     "\n",
     21},
    {P, L, 1, 0, 0, "prom: 2-byte UTF-8 after 16 ASCII bytes of HELP",
     "# HELP a abcdefghijklmnop\xc3"
     "\xa9"
     "\n",
     28},
    {P, S, 0, 2, 12, "prom: summary quantile not a float",
     "# TYPE s summary\ns{quantile=\"x\"} 1\n", 35},
    {P, L, 1, 0, 0, "prom: summary quantile not a float", "# TYPE s summary\ns{quantile=\"x\"} 1\n",
     35},
    {P, S, 0, 2, 13, "prom: histogram le not a float", "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
     38},
    {P, S, 1, 0, 0, "prom: interleaved families are allowed", "a 1\nb 1\na{x=\"1\"} 2\n", 19},
    {P, S, 0, 1, 3, "prom: CRLF is not a line end",
     "a 1\x0d"
     "\n",
     5},
    {O, S, 1, 0, 0, "om: minimal", "# EOF\n", 6},
    {O, S, 1, 0, 0, "om: no newline after EOF", "a 1\n# EOF", 9},
    {O, S, 0, 2, 1, "om: missing EOF", "a 1\n", 4},
    {O, L, 0, 2, 1, "om: missing EOF", "a 1\n", 4},
    {O, S, 0, 1, 1, "om: empty input", "", 0},
    {O, S, 0, 1, 6, "om: data after EOF", "# EOF\na 1\n", 10},
    {O, S, 0, 1, 6, "om: blank line after EOF", "# EOF\n\n", 7},
    {O, L, 0, 1, 6, "om: blank line after EOF", "# EOF\n\n", 7},
    {O, S, 0, 1, 6, "om: text glued to EOF", "# EOFx\n", 7},
    {O, S, 0, 2, 1, "om: blank line", "a 1\n\n# EOF\n", 11},
    {O, L, 0, 2, 1, "om: blank line", "a 1\n\n# EOF\n", 11},
    {O, S, 0, 1, 1, "om: leading blank", "  a 1\n# EOF\n", 12},
    {O, S, 0, 1, 3, "om: comment", "# hello world\n# EOF\n", 20},
    {O, L, 0, 1, 3, "om: comment", "# hello world\n# EOF\n", 20},
    {O, S, 0, 1, 1, "om: hash without space", "#EOF\n", 5},
    {O, S, 0, 1, 2, "om: tab separator", "a\t1\n# EOF\n", 10},
    {O, S, 0, 1, 3, "om: two spaces", "a  1\n# EOF\n", 11},
    {O, S, 0, 1, 5, "om: trailing space", "a 1 \n# EOF\n", 11},
    {O, S, 0, 1, 9, "om: HELP without text", "# HELP a\n# EOF\n", 15},
    {O, S, 1, 0, 0, "om: HELP with empty text", "# HELP a \n# EOF\n", 16},
    {O, S, 0, 1, 10, "om: TYPE untyped", "# TYPE a untyped\n# EOF\n", 23},
    {O, L, 0, 1, 10, "om: TYPE untyped", "# TYPE a untyped\n# EOF\n", 23},
    {O, S, 0, 1, 10, "om: TYPE with trailing space", "# TYPE a gauge \n# EOF\n", 22},
    {O, S, 0, 1, 12, "om: UNIT not a suffix", "# UNIT a_b seconds\n# EOF\n", 25},
    {O, L, 0, 1, 12, "om: UNIT not a suffix", "# UNIT a_b seconds\n# EOF\n", 25},
    {O, S, 0, 1, 1, "om: UNIT on info", "# TYPE a_s info\n# UNIT a_s s\n# EOF\n", 35},
    {O, L, 1, 0, 0, "om: UNIT on info", "# TYPE a_s info\n# UNIT a_s s\n# EOF\n", 35},
    {O, S, 0, 2, 1, "om: second HELP", "# HELP a x\n# HELP a x\n# EOF\n", 28},
    {O, L, 1, 0, 0, "om: second HELP", "# HELP a x\n# HELP a x\n# EOF\n", 28},
    {O, S, 0, 2, 1, "om: second UNIT", "# UNIT a_s s\n# UNIT a_s s\n# EOF\n", 32},
    {O, S, 0, 3, 1, "om: metadata after samples", "# TYPE a gauge\na 1\n# HELP a x\n# EOF\n", 36},
    {O, L, 1, 0, 0, "om: metadata after samples", "# TYPE a gauge\na 1\n# HELP a x\n# EOF\n", 36},
    {O, S, 0, 5, 1, "om: interleaved families",
     "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n", 48},
    {O, L, 1, 0, 0, "om: interleaved families",
     "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n", 48},
    {O, S, 0, 3, 1, "om: clashing names",
     "# TYPE a counter\na_total 1\n# TYPE a_created gauge\na_created 1\n# EOF\n", 68},
    {O, S, 0, 2, 1, "om: sample name does not fit its type", "# TYPE a counter\na 1\n# EOF\n", 27},
    {O, L, 1, 0, 0, "om: sample name does not fit its type", "# TYPE a counter\na 1\n# EOF\n", 27},
    {O, S, 0, 4, 1, "om: interleaved metrics in a family",
     "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n", 54},
    {O, S, 0, 2, 1, "om: duplicate series", "a 1\na 1\n# EOF\n", 14},
    {O, S, 1, 0, 0, "om: same series, same timestamp", "a 1 5\na 2 5\n# EOF\n", 18},
    {O, S, 0, 2, 1, "om: timestamps go backwards", "a 1 5\na 2 4\n# EOF\n", 18},
    {O, L, 1, 0, 0, "om: timestamps go backwards", "a 1 5\na 2 4\n# EOF\n", 18},
    {O, S, 0, 2, 1, "om: mixed timestamp presence", "a 1 5\na 2\n# EOF\n", 16},
    {O, S, 1, 0, 0, "om: info timestamps may go backwards",
     "# TYPE a info\na_info{x=\"1\"} 1 5\na_info{x=\"2\"} 1 4\n# EOF\n", 56},
    {O, S, 0, 2, 1, "om: counter NaN", "# TYPE a counter\na_total NaN\n# EOF\n", 35},
    {O, L, 1, 0, 0, "om: counter NaN", "# TYPE a counter\na_total NaN\n# EOF\n", 35},
    {O, S, 0, 2, 1, "om: counter negative", "# TYPE a counter\na_total -1\n# EOF\n", 34},
    {O, S, 1, 0, 0, "om: counter +Inf", "# TYPE a counter\na_total +Inf\n# EOF\n", 36},
    {O, S, 0, 2, 1, "om: summary quantile out of range",
     "# TYPE a summary\na{quantile=\"1.5\"} 1\n# EOF\n", 43},
    {O, S, 0, 2, 1, "om: summary quantile missing", "# TYPE a summary\na 1\n# EOF\n", 27},
    {O, S, 0, 2, 1, "om: summary quantile value negative",
     "# TYPE a summary\na{quantile=\"0.5\"} -1\n# EOF\n", 44},
    {O, S, 1, 0, 0, "om: summary quantile value NaN",
     "# TYPE a summary\na{quantile=\"0.5\"} NaN\n# EOF\n", 45},
    {O, S, 0, 2, 1, "om: summary _count negative", "# TYPE a summary\na_count -1\na_sum 1\n# EOF\n",
     42},
    {O, S, 0, 2, 1, "om: stateset value 2", "# TYPE a stateset\na{a=\"x\"} 2\n# EOF\n", 35},
    {O, S, 0, 2, 1, "om: stateset label missing", "# TYPE a stateset\na{b=\"x\"} 1\n# EOF\n", 35},
    {O, S, 0, 2, 1, "om: info value 2", "# TYPE a info\na_info 2\n# EOF\n", 29},
    {O, S, 1, 0, 0, "om: histogram complete",
     "# TYPE a histogram\na_bucket{le=\"1\"} 0\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum "
     "0.5\na_created 1\n# EOF\n",
     98},
    {O, S, 0, 2, 1, "om: histogram without +Inf",
     "# TYPE a histogram\na_bucket{le=\"1\"} 0\n# EOF\n", 44},
    {O, L, 1, 0, 0, "om: histogram without +Inf",
     "# TYPE a histogram\na_bucket{le=\"1\"} 0\n# EOF\n", 44},
    {O, S, 0, 3, 1, "om: histogram buckets out of order",
     "# TYPE a histogram\na_bucket{le=\"2\"} 0\na_bucket{le=\"1\"} 0\na_bucket{le=\"+Inf\"} 0\n# "
     "EOF\n",
     85},
    {O, S, 0, 3, 1, "om: histogram bucket values decrease",
     "# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n# EOF\n", 66},
    {O, S, 0, 2, 1, "om: histogram count differs from +Inf",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 2\na_sum 1\n# EOF\n", 65},
    {O, S, 0, 2, 1, "om: histogram sum without count",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_sum 1\n# EOF\n", 55},
    {O, S, 0, 2, 1, "om: histogram count without sum",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 1\n# EOF\n", 57},
    {O, S, 0, 2, 1, "om: histogram sum with negative buckets",
     "# TYPE a histogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum 1\n# "
     "EOF\n",
     85},
    {O, S, 0, 2, 1, "om: histogram le spelled +INF",
     "# TYPE a histogram\na_bucket{le=\"+INF\"} 1\n# EOF\n", 47},
    {O, S, 0, 2, 1, "om: histogram le missing", "# TYPE a histogram\na_bucket 1\n# EOF\n", 36},
    {O, S, 0, 2, 1, "om: histogram fractional bucket count",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1.5\n# EOF\n", 49},
    {O, S, 0, 2, 1, "om: gaugehistogram negative gsum without negative buckets",
     "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gcount 1\na_gsum -1\n# EOF\n", 73},
    {O, S, 1, 0, 0, "om: gaugehistogram negative gsum with negative buckets",
     "# TYPE a gaugehistogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 1\na_gcount 1\na_gsum "
     "-1\n# EOF\n",
     93},
    {O, S, 0, 2, 1, "om: gaugehistogram gsum without gcount",
     "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gsum 1\n# EOF\n", 61},
    {O, S, 1, 0, 0, "om: exemplar on counter total",
     "# TYPE a counter\na_total 1 # {t=\"x\"} 1 2\n# EOF\n", 47},
    {O, S, 0, 2, 1, "om: exemplar on gauge", "# TYPE a gauge\na 1 # {t=\"x\"} 1\n# EOF\n", 37},
    {O, L, 0, 2, 1, "om: exemplar on gauge", "# TYPE a gauge\na 1 # {t=\"x\"} 1\n# EOF\n", 37},
    {O, L, 1, 0, 0, "om: exemplar on an untyped _total (scraper checks names)",
     "a_total 1 # {t=\"x\"} 1\n# EOF\n", 28},
    {O, S, 0, 1, 1, "om: exemplar on an untyped _total", "a_total 1 # {t=\"x\"} 1\n# EOF\n", 28},
    {O, S, 0, 4, 1, "om: exemplar on histogram _sum",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum 1 # {t=\"x\"} 1\n# EOF\n", 77},
    {O, S, 0, 2, 20, "om: exemplar without value",
     "# TYPE a counter\na_total 1 # {t=\"x\"}\n# EOF\n", 43},
    {O, L, 0, 2, 20, "om: exemplar without value",
     "# TYPE a counter\na_total 1 # {t=\"x\"}\n# EOF\n", 43},
    {O, S, 0, 2, 9, "om: exemplar without space before hash",
     "# TYPE a counter\na_total 1# {} 1\n# EOF\n", 39},
    {O, S, 0, 2, 11, "om: exemplar without brace",
     "# TYPE a counter\na_total 1 # t=\"x\" 1\n# EOF\n", 43},
    {O, S, 0, 2, 18, "om: exemplar NaN timestamp",
     "# TYPE a counter\na_total 1 # {} 1 NaN\n# EOF\n", 44},
    {O, S, 0, 2, 11, "om: exemplar labels too long",
     "# TYPE a counter\na_total 1 # "
     "{a="
     "\"1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901"
     "23456789012345678901234567890123456789\"} 1\n# EOF\n",
     173},
    {O, L, 1, 0, 0, "om: exemplar labels too long (scraper does not check)",
     "# TYPE a counter\na_total 1 # "
     "{a="
     "\"1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901"
     "23456789012345678901234567890123456789\"} 1\n# EOF\n",
     173},
    {O, S, 0, 1, 9, "om: trailing comma", "a{x=\"1\",} 1\n# EOF\n", 18},
    {O, L, 0, 1, 9, "om: trailing comma", "a{x=\"1\",} 1\n# EOF\n", 18},
    {O, S, 0, 1, 3, "om: leading comma", "a{,x=\"1\"} 1\n# EOF\n", 18},
    {O, S, 0, 1, 8, "om: missing comma", "a{x=\"1\"y=\"2\"} 1\n# EOF\n", 22},
    {O, S, 0, 1, 4, "om: space in labels", "a{x = \"1\"} 1\n# EOF\n", 19},
    {O, S, 1, 0, 0, "om: empty braces", "a{} 1\n# EOF\n", 12},
    {O, S, 1, 0, 0, "om: other escapes kept", "a{x=\"\\t\\z\"} 1\n# EOF\n", 20},
    {O, S, 0, 1, 7, "om: newline in label value", "a{x=\"1\n2\"} 1\n# EOF\n", 19},
    {O, S, 0, 1, 6, "om: invalid UTF-8 in label value",
     "a{x=\"\xff"
     "\"} 1\n# EOF\n",
     17},
    {O, S, 1, 0, 0, "om: UTF-8 in label value",
     "a{x=\"\xe2"
     "\x98"
     "\x83"
     "\"} 1\n# EOF\n",
     19},
    {O, S, 0, 1, 3, "om: value 1_2", "a 1_2\n# EOF\n", 12},
    {O, S, 0, 1, 3, "om: value true", "a true\n# EOF\n", 13},
    {O, S, 0, 1, 5, "om: timestamp Inf", "a 1 Inf\n# EOF\n", 14},
    {O, L, 0, 1, 5, "om: timestamp Inf", "a 1 Inf\n# EOF\n", 14},
    {O, S, 0, 1, 5, "om: timestamp not a number", "a 1 z\n# EOF\n", 12},
    {O, S, 1, 0, 0, "om: float timestamp", "a 1 1.5e3\n# EOF\n", 16},
    {O, S, 0, 1, 7, "om: text after timestamp", "a 1 2 3\n# EOF\n", 14},
    {O, S, 1, 0, 0, "om: uint64 counter", "# TYPE a counter\na_total 18446744073709551615\n# EOF\n",
     52},
    {O, S, 1, 0, 0, "om: huge value reads as +Inf (Python float semantics)", "a 1e999\n# EOF\n",
     14},
    {O, L, 0, 1, 3, "om: huge value is an error for the scraper", "a 1e999\n# EOF\n", 14},
    {O, S, 0, 2, 23, "om: exemplar hash without labels",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 #\n# EOF\n", 49},
    {O, S, 0, 2, 27, "om: exemplar value glued to labels",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 # {}1\n# EOF\n", 53},
    {O, S, 0, 2, 30, "om: exemplar trailing space",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 # {} 1 \n# EOF\n", 55},
    {O, S, 0, 2, 1, "om: exemplar on counter _created",
     "# TYPE a counter\na_created 1 # {a=\"b\"} 0.5\n# EOF\n", 49},
    {O, L, 1, 0, 0, "om: exemplar on a gauge named _bucket (scraper checks names)",
     "# TYPE a_bucket gauge\na_bucket 1 # {a=\"b\"} 0.5\n# EOF\n", 53},
    {O, S, 0, 2, 1, "om: exemplar on a gauge named _bucket",
     "# TYPE a_bucket gauge\na_bucket 1 # {a=\"b\"} 0.5\n# EOF\n", 53},
    {O, S, 0, 2, 1, "om: exemplar on stateset",
     "# TYPE a stateset\na{a=\"b\"} 1 # {c=\"d\"} 1\n# EOF\n", 47},
    {O, S, 0, 3, 1, "om: summary with a stray quantile family",
     "# TYPE a summary\nquantile{quantile=\"0\"} 0\na_sum{a=\"1\"} 0\nquantile{quantile=\"1\"} "
     "0\n# EOF\n",
     88},
    {O, S, 0, 3, 1, "om: gaugehistogram gsum NaN",
     "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gsum NaN\n# EOF\n", 63},
    {O, S, 0, 2, 1, "om: histogram count before buckets disagrees",
     "# TYPE a histogram\na_count 1\na_bucket{le=\"+Inf\"} 0\n# EOF\n", 57},
    {O, S, 1, 0, 0, "om: histogram with float-spelled counts",
     "# TYPE foo histogram\nfoo_bucket{le=\"0.0\"} 0.0\nfoo_bucket{le=\"1e-05\"} "
     "0.0\nfoo_bucket{le=\"1.55555555555552e+06\"} 17.0\nfoo_bucket{le=\"+Inf\"} 17.0\nfoo_count "
     "17.0\nfoo_sum 324789.3\nfoo_created 1.520430000123e+09\n# EOF\n",
     212},
    {O, S, 1, 0, 0, "om: timestamps rising in tiny steps",
     "# TYPE a gauge\na{a=\"1\"} 1 0.0000000000\na{a=\"1\"} 2 0.0000000001\na{a=\"2\"} 4 "
     "0.0000000000\n# EOF\n",
     93},
    {O, S, 0, 1, 3, "om: value 0X1", "a 0X1\n# EOF\n", 12},
    {O, S, 0, 1, 5, "om: timestamp 1z", "a 1 1z\n# EOF\n", 13},
    {O, S, 0, 1, 2, "om: metric name a-b", "a-b 1\n# EOF\n", 12},
    {O, S, 0, 1, 1, "om: UNIT on stateset", "# TYPE x_u stateset\n# UNIT x_u u\n# EOF\n", 39},
    {O, S, 0, 2, 1, "om: second TYPE", "# TYPE a gauge\n# TYPE a gauge\n# EOF\n", 36},
    {O, S, 0, 1, 9, "om: HELP with a tab after the name", "# HELP a\t\n# EOF\n", 16},
    {P, S, 0, 1, 11, "prom: HELP ending in a backslash", "# HELP a x\\\n", 12},
    {P, S, 1, 0, 0, "prom: HELP without blank after hash (promtool)",
     "#HELP a x\n# TYPE a gauge\na 1\n", 29},
    {O, S, 1, 0, 0, "om: counter with unit and created",
     "# TYPE c_seconds counter\n# UNIT c_seconds seconds\nc_seconds_total 1\nc_seconds_created "
     "2\n# EOF\n",
     94},
    {O, S, 1, 0, 0, "om: info and stateset",
     "# TYPE i info\ni_info{v=\"1\"} 1\n# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# EOF\n",
     76},
    {P, L, 1, 0, 0, "prom: an empty input is valid (Prometheus 2.42 scrape: up)", "", 0},
    {P, L, 1, 0, 0, "prom: blank lines only (Prometheus 2.42 scrape: up)", "\n  \n\t\n", 6},
    {P, L, 1, 0, 0, "prom: trailing blanks after the last newline (Prometheus 2.42 scrape: up)",
     "a 1\n   ", 7},
    {P, L, 1, 0, 0, "prom: comment without final newline (Prometheus 2.42 scrape: up)", "a 1\n# c",
     7},
    {P, L, 1, 0, 0, "prom: comments and HELP with no text (Prometheus 2.42 scrape: up)",
     "# just a comment\n# HELP\n# HELP m\n#\n", 35},
    {P, L, 0, 1, 1, "prom: no metric name (Prometheus 2.42 scrape: down)", "{a=\"b\"} 1\n", 10},
    {P, L, 0, 1, 3, "prom: value not a float (Prometheus 2.42 scrape: down)", "a b\n", 4},
    {P, L, 0, 1, 3, "prom: underscore in value (Prometheus 2.42 scrape: down)", "a 1_000\n", 8},
    {P, L, 0, 1, 3, "prom: value overflow (Prometheus 2.42 scrape: down)", "a 1e999\n", 8},
    {P, L, 0, 1, 3, "prom: signed NaN (Prometheus 2.42 scrape: down)", "a -NaN\n", 7},
    {P, L, 0, 1, 5, "prom: timestamp out of int64 (Prometheus 2.42 scrape: down)",
     "a 1 9223372036854775808\n", 24},
    {P, L, 0, 1, 5, "prom: unquoted label value (Prometheus 2.42 scrape: down)", "a{x=1} 1\n", 9},
    {P, L, 0, 1, 4, "prom: missing equals (Prometheus 2.42 scrape: down)", "a{x} 1\n", 7},
    {P, L, 0, 1, 3, "prom: invalid label name (Prometheus 2.42 scrape: down)", "a{1x=\"1\"} 1\n",
     12},
    {P, L, 0, 1, 8, "prom: junk after label value (Prometheus 2.42 scrape: down)",
     "a{x=\"1\"+} 1\n", 12},
    {P, L, 1, 0, 0, "prom: trailing comma and blanks (Prometheus 2.42 scrape: up)",
     "a { x = \"1\" , } 1\n", 18},
    {P, L, 0, 1, 6, "prom: overlong UTF-8 (Prometheus 2.42 scrape: down)",
     "a{x=\"\xc0"
     "\xaf"
     "\"} 1\n",
     12},
    {P, L, 0, 1, 6, "prom: UTF-8 surrogate (Prometheus 2.42 scrape: down)",
     "a{x=\"\xed"
     "\xa0"
     "\x80"
     "\"} 1\n",
     13},
    {P, L, 1, 0, 0, "prom: NUL in label value (Prometheus 2.42 scrape: up)",
     "a{x=\"\x00"
     "\"} 1\n",
     11},
    {P, L, 0, 1, 4, "prom: NUL in label name (Prometheus 2.42 scrape: down)",
     "a{x\x00"
     "=\"1\"} 1\n",
     12},
    {P, L, 0, 1, 6, "prom: NUL after timestamp (Prometheus 2.42 scrape: down)",
     "a 1 2\x00"
     "\n",
     7},
    {P, L, 1, 0, 0, "prom: second TYPE (Prometheus 2.42 scrape: up)",
     "# TYPE a gauge\n# TYPE a gauge\n", 30},
    {P, L, 1, 0, 0, "prom: TYPE of a summary after its _count (Prometheus 2.42 scrape: up)",
     "# TYPE s summary\ns_count 1\n# TYPE s_count gauge\n", 48},
    {P, L, 0, 1, 10, "prom: unknown TYPE (Prometheus 2.42 scrape: down)",
     "# TYPE a gaugehistogram\n", 24},
    {P, L, 0, 1, 10, "prom: invalid name in TYPE (Prometheus 2.42 scrape: down)",
     "# TYPE a-b counter\n", 19},
    {P, L, 1, 0, 0, "prom: histogram le not a float (Prometheus 2.42 scrape: up)",
     "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", 38},
    {P, L, 1, 0, 0, "prom: interleaved families are allowed (Prometheus 2.42 scrape: up)",
     "a 1\nb 1\na{x=\"1\"} 2\n", 19},
    {P, L, 0, 1, 3, "prom: CRLF is not a line end (Prometheus 2.42 scrape: down)",
     "a 1\x0d"
     "\n",
     5},
    {O, L, 1, 0, 0, "om: minimal (Prometheus 2.42 scrape: up)", "# EOF\n", 6},
    {O, L, 1, 0, 0, "om: no newline after EOF (Prometheus 2.42 scrape: up)", "a 1\n# EOF", 9},
    {O, L, 0, 1, 1, "om: empty input (Prometheus 2.42 scrape: down)", "", 0},
    {O, L, 0, 1, 6, "om: data after EOF (Prometheus 2.42 scrape: down)", "# EOF\na 1\n", 10},
    {O, L, 0, 1, 6, "om: text glued to EOF (Prometheus 2.42 scrape: down)", "# EOFx\n", 7},
    {O, L, 0, 1, 1, "om: leading blank (Prometheus 2.42 scrape: down)", "  a 1\n# EOF\n", 12},
    {O, L, 0, 1, 1, "om: hash without space (Prometheus 2.42 scrape: down)", "#EOF\n", 5},
    {O, L, 0, 1, 2, "om: tab separator (Prometheus 2.42 scrape: down)", "a\t1\n# EOF\n", 10},
    {O, L, 0, 1, 3, "om: two spaces (Prometheus 2.42 scrape: down)", "a  1\n# EOF\n", 11},
    {O, L, 0, 1, 5, "om: trailing space (Prometheus 2.42 scrape: down)", "a 1 \n# EOF\n", 11},
    {O, L, 0, 1, 9, "om: HELP without text (Prometheus 2.42 scrape: down)", "# HELP a\n# EOF\n",
     15},
    {O, L, 1, 0, 0, "om: HELP with empty text (Prometheus 2.42 scrape: up)", "# HELP a \n# EOF\n",
     16},
    {O, L, 0, 1, 10, "om: TYPE with trailing space (Prometheus 2.42 scrape: down)",
     "# TYPE a gauge \n# EOF\n", 22},
    {O, L, 1, 0, 0, "om: second UNIT (Prometheus 2.42 scrape: up)",
     "# UNIT a_s s\n# UNIT a_s s\n# EOF\n", 32},
    {O, L, 1, 0, 0, "om: clashing names (Prometheus 2.42 scrape: up)",
     "# TYPE a counter\na_total 1\n# TYPE a_created gauge\na_created 1\n# EOF\n", 68},
    {O, L, 1, 0, 0, "om: interleaved metrics in a family (Prometheus 2.42 scrape: up)",
     "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n", 54},
    {O, L, 1, 0, 0, "om: duplicate series (Prometheus 2.42 scrape: up)", "a 1\na 1\n# EOF\n", 14},
    {O, L, 1, 0, 0, "om: same series, same timestamp (Prometheus 2.42 scrape: up)",
     "a 1 5\na 2 5\n# EOF\n", 18},
    {O, L, 1, 0, 0, "om: mixed timestamp presence (Prometheus 2.42 scrape: up)",
     "a 1 5\na 2\n# EOF\n", 16},
    {O, L, 1, 0, 0, "om: info timestamps may go backwards (Prometheus 2.42 scrape: up)",
     "# TYPE a info\na_info{x=\"1\"} 1 5\na_info{x=\"2\"} 1 4\n# EOF\n", 56},
    {O, L, 1, 0, 0, "om: counter negative (Prometheus 2.42 scrape: up)",
     "# TYPE a counter\na_total -1\n# EOF\n", 34},
    {O, L, 1, 0, 0, "om: counter +Inf (Prometheus 2.42 scrape: up)",
     "# TYPE a counter\na_total +Inf\n# EOF\n", 36},
    {O, L, 1, 0, 0, "om: summary quantile out of range (Prometheus 2.42 scrape: up)",
     "# TYPE a summary\na{quantile=\"1.5\"} 1\n# EOF\n", 43},
    {O, L, 1, 0, 0, "om: summary quantile missing (Prometheus 2.42 scrape: up)",
     "# TYPE a summary\na 1\n# EOF\n", 27},
    {O, L, 1, 0, 0, "om: summary quantile value negative (Prometheus 2.42 scrape: up)",
     "# TYPE a summary\na{quantile=\"0.5\"} -1\n# EOF\n", 44},
    {O, L, 1, 0, 0, "om: summary quantile value NaN (Prometheus 2.42 scrape: up)",
     "# TYPE a summary\na{quantile=\"0.5\"} NaN\n# EOF\n", 45},
    {O, L, 1, 0, 0, "om: summary _count negative (Prometheus 2.42 scrape: up)",
     "# TYPE a summary\na_count -1\na_sum 1\n# EOF\n", 42},
    {O, L, 1, 0, 0, "om: stateset value 2 (Prometheus 2.42 scrape: up)",
     "# TYPE a stateset\na{a=\"x\"} 2\n# EOF\n", 35},
    {O, L, 1, 0, 0, "om: stateset label missing (Prometheus 2.42 scrape: up)",
     "# TYPE a stateset\na{b=\"x\"} 1\n# EOF\n", 35},
    {O, L, 1, 0, 0, "om: info value 2 (Prometheus 2.42 scrape: up)",
     "# TYPE a info\na_info 2\n# EOF\n", 29},
    {O, L, 1, 0, 0, "om: histogram complete (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"1\"} 0\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum "
     "0.5\na_created 1\n# EOF\n",
     98},
    {O, L, 1, 0, 0, "om: histogram buckets out of order (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"2\"} 0\na_bucket{le=\"1\"} 0\na_bucket{le=\"+Inf\"} 0\n# "
     "EOF\n",
     85},
    {O, L, 1, 0, 0, "om: histogram bucket values decrease (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n# EOF\n", 66},
    {O, L, 1, 0, 0, "om: histogram count differs from +Inf (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 2\na_sum 1\n# EOF\n", 65},
    {O, L, 1, 0, 0, "om: histogram sum without count (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_sum 1\n# EOF\n", 55},
    {O, L, 1, 0, 0, "om: histogram count without sum (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 1\n# EOF\n", 57},
    {O, L, 1, 0, 0, "om: histogram sum with negative buckets (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum 1\n# "
     "EOF\n",
     85},
    {O, L, 1, 0, 0, "om: histogram le spelled +INF (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"+INF\"} 1\n# EOF\n", 47},
    {O, L, 1, 0, 0, "om: histogram le missing (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket 1\n# EOF\n", 36},
    {O, L, 1, 0, 0, "om: histogram fractional bucket count (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1.5\n# EOF\n", 49},
    {O, L, 1, 0, 0,
     "om: gaugehistogram negative gsum without negative buckets (Prometheus 2.42 scrape: up)",
     "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gcount 1\na_gsum -1\n# EOF\n", 73},
    {O, L, 1, 0, 0,
     "om: gaugehistogram negative gsum with negative buckets (Prometheus 2.42 scrape: up)",
     "# TYPE a gaugehistogram\na_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 1\na_gcount 1\na_gsum "
     "-1\n# EOF\n",
     93},
    {O, L, 1, 0, 0, "om: gaugehistogram gsum without gcount (Prometheus 2.42 scrape: up)",
     "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gsum 1\n# EOF\n", 61},
    {O, L, 1, 0, 0, "om: exemplar on counter total (Prometheus 2.42 scrape: up)",
     "# TYPE a counter\na_total 1 # {t=\"x\"} 1 2\n# EOF\n", 47},
    {O, L, 0, 4, 1, "om: exemplar on histogram _sum (Prometheus 2.42 scrape: down)",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum 1 # {t=\"x\"} 1\n# EOF\n", 77},
    {O, L, 0, 2, 9, "om: exemplar without space before hash (Prometheus 2.42 scrape: down)",
     "# TYPE a counter\na_total 1# {} 1\n# EOF\n", 39},
    {O, L, 0, 2, 11, "om: exemplar without brace (Prometheus 2.42 scrape: down)",
     "# TYPE a counter\na_total 1 # t=\"x\" 1\n# EOF\n", 43},
    {O, L, 0, 2, 18, "om: exemplar NaN timestamp (Prometheus 2.42 scrape: down)",
     "# TYPE a counter\na_total 1 # {} 1 NaN\n# EOF\n", 44},
    {O, L, 0, 1, 3, "om: leading comma (Prometheus 2.42 scrape: down)", "a{,x=\"1\"} 1\n# EOF\n",
     18},
    {O, L, 0, 1, 8, "om: missing comma (Prometheus 2.42 scrape: down)",
     "a{x=\"1\"y=\"2\"} 1\n# EOF\n", 22},
    {O, L, 0, 1, 4, "om: space in labels (Prometheus 2.42 scrape: down)", "a{x = \"1\"} 1\n# EOF\n",
     19},
    {O, L, 1, 0, 0, "om: empty braces (Prometheus 2.42 scrape: up)", "a{} 1\n# EOF\n", 12},
    {O, L, 1, 0, 0, "om: other escapes kept (Prometheus 2.42 scrape: up)",
     "a{x=\"\\t\\z\"} 1\n# EOF\n", 20},
    {O, L, 0, 1, 7, "om: newline in label value (Prometheus 2.42 scrape: down)",
     "a{x=\"1\n2\"} 1\n# EOF\n", 19},
    {O, L, 0, 1, 6, "om: invalid UTF-8 in label value (Prometheus 2.42 scrape: down)",
     "a{x=\"\xff"
     "\"} 1\n# EOF\n",
     17},
    {O, L, 1, 0, 0, "om: UTF-8 in label value (Prometheus 2.42 scrape: up)",
     "a{x=\"\xe2"
     "\x98"
     "\x83"
     "\"} 1\n# EOF\n",
     19},
    {O, L, 0, 1, 3, "om: value 1_2 (Prometheus 2.42 scrape: down)", "a 1_2\n# EOF\n", 12},
    {O, L, 0, 1, 3, "om: value true (Prometheus 2.42 scrape: down)", "a true\n# EOF\n", 13},
    {O, L, 0, 1, 5, "om: timestamp not a number (Prometheus 2.42 scrape: down)", "a 1 z\n# EOF\n",
     12},
    {O, L, 1, 0, 0, "om: float timestamp (Prometheus 2.42 scrape: up)", "a 1 1.5e3\n# EOF\n", 16},
    {O, L, 0, 1, 7, "om: text after timestamp (Prometheus 2.42 scrape: down)", "a 1 2 3\n# EOF\n",
     14},
    {O, L, 1, 0, 0, "om: uint64 counter (Prometheus 2.42 scrape: up)",
     "# TYPE a counter\na_total 18446744073709551615\n# EOF\n", 52},
    {O, L, 0, 2, 23, "om: exemplar hash without labels (Prometheus 2.42 scrape: down)",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 #\n# EOF\n", 49},
    {O, L, 0, 2, 27, "om: exemplar value glued to labels (Prometheus 2.42 scrape: down)",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 # {}1\n# EOF\n", 53},
    {O, L, 0, 2, 30, "om: exemplar trailing space (Prometheus 2.42 scrape: down)",
     "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 # {} 1 \n# EOF\n", 55},
    {O, L, 0, 2, 1, "om: exemplar on counter _created (Prometheus 2.42 scrape: down)",
     "# TYPE a counter\na_created 1 # {a=\"b\"} 0.5\n# EOF\n", 49},
    {O, L, 0, 2, 1, "om: exemplar on stateset (Prometheus 2.42 scrape: down)",
     "# TYPE a stateset\na{a=\"b\"} 1 # {c=\"d\"} 1\n# EOF\n", 47},
    {O, L, 1, 0, 0, "om: summary with a stray quantile family (Prometheus 2.42 scrape: up)",
     "# TYPE a summary\nquantile{quantile=\"0\"} 0\na_sum{a=\"1\"} 0\nquantile{quantile=\"1\"} "
     "0\n# EOF\n",
     88},
    {O, L, 1, 0, 0, "om: gaugehistogram gsum NaN (Prometheus 2.42 scrape: up)",
     "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gsum NaN\n# EOF\n", 63},
    {O, L, 1, 0, 0, "om: histogram count before buckets disagrees (Prometheus 2.42 scrape: up)",
     "# TYPE a histogram\na_count 1\na_bucket{le=\"+Inf\"} 0\n# EOF\n", 57},
    {O, L, 1, 0, 0, "om: histogram with float-spelled counts (Prometheus 2.42 scrape: up)",
     "# TYPE foo histogram\nfoo_bucket{le=\"0.0\"} 0.0\nfoo_bucket{le=\"1e-05\"} "
     "0.0\nfoo_bucket{le=\"1.55555555555552e+06\"} 17.0\nfoo_bucket{le=\"+Inf\"} 17.0\nfoo_count "
     "17.0\nfoo_sum 324789.3\nfoo_created 1.520430000123e+09\n# EOF\n",
     212},
    {O, L, 1, 0, 0, "om: timestamps rising in tiny steps (Prometheus 2.42 scrape: up)",
     "# TYPE a gauge\na{a=\"1\"} 1 0.0000000000\na{a=\"1\"} 2 0.0000000001\na{a=\"2\"} 4 "
     "0.0000000000\n# EOF\n",
     93},
    {O, L, 0, 1, 3, "om: value 0X1 (Prometheus 2.42 scrape: down)", "a 0X1\n# EOF\n", 12},
    {O, L, 0, 1, 5, "om: timestamp 1z (Prometheus 2.42 scrape: down)", "a 1 1z\n# EOF\n", 13},
    {O, L, 0, 1, 2, "om: metric name a-b (Prometheus 2.42 scrape: down)", "a-b 1\n# EOF\n", 12},
    {O, L, 1, 0, 0, "om: UNIT on stateset (Prometheus 2.42 scrape: up)",
     "# TYPE x_u stateset\n# UNIT x_u u\n# EOF\n", 39},
    {O, L, 1, 0, 0, "om: second TYPE (Prometheus 2.42 scrape: up)",
     "# TYPE a gauge\n# TYPE a gauge\n# EOF\n", 36},
    {O, L, 0, 1, 9, "om: HELP with a tab after the name (Prometheus 2.42 scrape: down)",
     "# HELP a\t\n# EOF\n", 16},
    {P, L, 1, 0, 0, "prom: HELP ending in a backslash (Prometheus 2.42 scrape: up)",
     "# HELP a x\\\n", 12},
    {P, L, 1, 0, 0, "prom: HELP without blank after hash (promtool) (Prometheus 2.42 scrape: up)",
     "#HELP a x\n# TYPE a gauge\na 1\n", 29},
    {O, L, 1, 0, 0, "om: counter with unit and created (Prometheus 2.42 scrape: up)",
     "# TYPE c_seconds counter\n# UNIT c_seconds seconds\nc_seconds_total 1\nc_seconds_created "
     "2\n# EOF\n",
     94},
    {O, L, 1, 0, 0, "om: info and stateset (Prometheus 2.42 scrape: up)",
     "# TYPE i info\ni_info{v=\"1\"} 1\n# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# EOF\n",
     76},
    {P, L, 1, 0, 0, "prom: NUL at a line start ends the input (Prometheus 2.42 scrape: up)",
     "a 1\n\x00"
     "garbage{\n",
     14},
    {P, S, 0, 2, 1, "prom: NUL at a line start",
     "a 1\n\x00"
     "garbage{\n",
     14},
    {P, L, 1, 0, 0, "prom: NULs before a label value are dropped (Prometheus 2.42 scrape: up)",
     "a{b= \x00"
     " \"x\"} 1\n",
     14},
    {P, S, 0, 1, 6, "prom: NUL before a label value",
     "a{b= \x00"
     " \"x\"} 1\n",
     14},
    {O, L, 0, 1, 5, "om: NUL before a label value (Prometheus 2.42 scrape: down)",
     "a{b=\x00"
     "\"x\"} 1\n# EOF\n",
     18},
    {O, L, 0, 1, 16, "om: NUL before an exemplar label value",
     "a_total 1 # {b=\x00"
     "\"x\"} 1\n# EOF\n",
     29},
    {O, S, 0, 1, 5, "om: NUL before a label value",
     "a{b=\x00"
     "\"x\"} 1\n# EOF\n",
     18},
    {P, S, 1, 0, 0, "prom: backslashes dropped from the TYPE word (promtool)",
     "# TYPE a gau\\ge\na 1\n", 20},
    {P, L, 0, 1, 10, "prom: backslash in the TYPE word", "# TYPE a gau\\ge\na 1\n", 20},
    {P, L, 1, 0, 0, "prom: NUL after \"# \" keeps the line a comment (Prometheus 2.42 scrape: up)",
     "# \x00"
     "TYPE a bogus\na 1\n",
     20},
    {O, L, 0, 2, 3, "om: NUL after \"# \" (Prometheus 2.42 scrape: down)",
     "a 1\n# \x00"
     "EOF\n",
     11},
    {P, L, 0, 1, 5, "prom: NUL right after the equals sign (Prometheus 2.42 scrape: down)",
     "a{b=\x00"
     "\"\x00"
     "\"} -11\n",
     14},
};

static void test_expfmt_rules_give_verdicts_and_positions(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rule_case *c = &cases[i];
        struct coll_expfmt_parser *p = coll_expfmt_parser_new(c->fmt, c->flags);
        /* an exact-size heap copy, so ASan sees any read past the end */
        char *buf = malloc(c->len ? c->len : 1);
        memcpy(buf, c->in, c->len);
        coll_expfmt_parser_reset(p, buf, c->len);
        struct coll_expfmt_entry e;
        struct coll_expfmt_err err;
        memset(&err, 0, sizeof(err));
        int rc;
        while ((rc = coll_expfmt_next(p, &e, &err)) > 0)
            ;
        int valid = rc == 0;
        if (valid != c->valid) {
            printf("FAIL %s (%s): expected %s, got %s %u:%u: %s\n", c->what,
                   c->flags ? "strict" : "lenient", c->valid ? "valid" : "invalid",
                   valid ? "valid" : "invalid", err.line, err.col, err.msg);
            bad++;
        } else if (!valid && (err.line != c->line || err.col != c->col || !err.msg[0])) {
            printf("FAIL %s (%s): error at %u:%u (%s), expected %u:%u\n", c->what,
                   c->flags ? "strict" : "lenient", err.line, err.col, err.msg, c->line, c->col);
            bad++;
        } else if (rc != 0 && rc != PL_ERR_INVALID) {
            printf("FAIL %s: return code %d\n", c->what, rc);
            bad++;
        }
        free(buf);
        coll_expfmt_parser_free(p);
    }
    assert_int_equal(bad, 0);
}

int test_expfmt_rules_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expfmt_rules_give_verdicts_and_positions),
    };
    return cmocka_run_group_tests_name("expfmt_rules", tests, NULL, NULL);
}
