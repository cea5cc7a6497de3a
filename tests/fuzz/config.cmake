# fuzz_config: prometheus.yml parsing, relabel rules and target building (collector owner).
if(TARGET collector)
  fuzz_target(fuzz_config LIBS collector)
endif()
# fuzz_sd: file_sd files (JSON and YAML) and DNS answers from dns_sd.
if(TARGET collector)
  fuzz_target(fuzz_sd LIBS collector)
endif()
