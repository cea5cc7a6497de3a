# Exposition parsers (collector/expfmt.h): one target per format; each runs
# the strict and the lenient parser over the input.
fuzz_target(fuzz_expfmt_text LIBS collector)
fuzz_target(fuzz_expfmt_om LIBS collector)
