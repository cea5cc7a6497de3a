# Integration tests of promlite-exporter (included from tests/unit/exporter and,
# once it exists, from tests/integration/CMakeLists.txt; the guard makes the
# second inclusion a no-op).
if(NOT TEST exporter_compare)
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
endif()
if(NOT TEST exporter_install)
  add_test(NAME exporter_install
    COMMAND sh ${PROJECT_SOURCE_DIR}/tests/integration/exporter_install.sh ${CMAKE_BINARY_DIR}
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(exporter_install PROPERTIES TIMEOUT 120)
endif()
