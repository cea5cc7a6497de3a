# PromQL parser fuzz target (owner: query parser).
fuzz_target(fuzz_promql LIBS query tsdb common)
