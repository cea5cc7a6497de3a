# Integration tests of promlite-exporter and libpromlite-client (included from
# tests/unit/exporter and, once it exists, from tests/integration/CMakeLists.txt;
# a global property makes the second inclusion a no-op).
get_property(EXP_INTEGRATION_ADDED GLOBAL PROPERTY PROMLITE_EXPORTER_INTEGRATION_TESTS)
if(NOT EXP_INTEGRATION_ADDED)
  set_property(GLOBAL PROPERTY PROMLITE_EXPORTER_INTEGRATION_TESTS ON)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    add_test(NAME exporter_compare
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/integration/exporter_compare.py
              $<TARGET_FILE:promlite-exporter>)
    set_tests_properties(exporter_compare PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
    add_test(NAME exporter_http
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/integration/exporter_http.py
              $<TARGET_FILE:promlite-exporter> ${PROJECT_SOURCE_DIR}/tests/fixtures/exporter)
    set_tests_properties(exporter_http PROPERTIES TIMEOUT 60)
  endif()
  add_test(NAME exporter_install
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/integration/exporter_install.sh ${CMAKE_BINARY_DIR}
            ${PROJECT_SOURCE_DIR})
  # Programs built against a sanitized library need the same runtime.
  set(EXP_INSTALL_CFLAGS "")
  if(PROMLITE_SANITIZE)
    set(EXP_INSTALL_CFLAGS "-fsanitize=address,undefined")
  endif()
  set_tests_properties(exporter_install PROPERTIES TIMEOUT 120
    ENVIRONMENT "EXTRA_CFLAGS=${EXP_INSTALL_CFLAGS}")
  if(Python3_Interpreter_FOUND)
    add_test(NAME exporter_prometheus
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tests/integration/exporter_prometheus.py
              $<TARGET_FILE:promlite-exporter> ${PROJECT_SOURCE_DIR}/tests/fixtures/exporter)
    set_tests_properties(exporter_prometheus PROPERTIES TIMEOUT 90 SKIP_RETURN_CODE 77)
  endif()
endif()
