# fuzz_config: prometheus.yml parsing, relabel rules and target building (collector owner).
if(TARGET collector)
  fuzz_target(fuzz_config LIBS collector)
endif()
