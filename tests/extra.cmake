# Included at the end of tests/CMakeLists.txt: the C99 test of the public header, the
# install + find_package / pkg-config test of examples/, and the exported-symbols check.

add_executable(c_api_test ${CMAKE_CURRENT_SOURCE_DIR}/c/c_api_test.c)
set_target_properties(c_api_test PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(c_api_test PRIVATE -std=c99 -pedantic -Wall -Wextra -Werror)
target_link_libraries(c_api_test PRIVATE collective)
add_test(NAME c_api_test COMMAND c_api_test)
set_tests_properties(c_api_test PROPERTIES TIMEOUT 60 ENVIRONMENT "COLL_TRANSPORT=tcp")

add_executable(coll_free_port ${CMAKE_CURRENT_SOURCE_DIR}/c/free_port.c)
set_target_properties(coll_free_port PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)

# Packaging, not memory, is under test here; a sanitized library cannot link plain programs.
if(NOT COLL_SANITIZE)
add_test(NAME install_examples_test
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/c/install_test.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/install_examples_test $<TARGET_FILE:coll_free_port>
          ${CMAKE_C_COMPILER})
set_tests_properties(install_examples_test PROPERTIES TIMEOUT 300)
endif()

add_test(NAME exported_symbols_test
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/c/check_exports.sh $<TARGET_FILE:collective>)
set_tests_properties(exported_symbols_test PROPERTIES TIMEOUT 60)

# No GPU / driver / NCCL / RDMA library among the NEEDED entries (they are loaded at run time),
# and in a CUDA build the static CUDA runtime inside.
add_test(NAME needed_libraries_test
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/c/check_needed.sh $<TARGET_FILE:collective> $<$<BOOL:${COLL_HAVE_CUDA}>:cuda>)
set_tests_properties(needed_libraries_test PROPERTIES TIMEOUT 60)
