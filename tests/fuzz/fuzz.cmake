# Registers the bounded libFuzzer run of the GGUF parser (label `fuzz`); included from more than
# one CMakeLists.txt, so it guards itself to register the test once.
include_guard(GLOBAL)
set(TANDEM_FUZZ_SECONDS 60 CACHE STRING "Seconds each libFuzzer target runs under ctest")
add_test(NAME gguf_fuzz
         COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/run_gguf_fuzz.sh
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/fuzz ${TANDEM_SHARED_DIR} ${TANDEM_FUZZ_SECONDS})
set_tests_properties(gguf_fuzz PROPERTIES LABELS fuzz TIMEOUT 600)
add_test(NAME openai_fuzz
         COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/run_openai_fuzz.sh
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/fuzz-openai 30)
set_tests_properties(openai_fuzz PROPERTIES LABELS fuzz TIMEOUT 600)
