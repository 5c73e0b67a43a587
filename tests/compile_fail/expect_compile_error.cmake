# Compiles SOURCE (which must not compile) and checks that the compiler reports exactly one
# error, whose text matches EXPECT: a misuse must fail with one readable message, not a page.
# cmake -DCOMPILER=... -DINCLUDE_DIR=... -DSOURCE=... -DEXPECT=<regex> -P expect_compile_error.cmake
execute_process(
  COMMAND ${COMPILER} -std=c++20 -fsyntax-only -fno-diagnostics-color -I${INCLUDE_DIR} ${SOURCE}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
set(all "${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must be rejected with: ${EXPECT}")
endif()
string(REGEX MATCHALL "error:" errors "${all}")
list(LENGTH errors n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "${SOURCE}: expected exactly one error, got ${n}:\n${all}")
endif()
if(NOT all MATCHES "${EXPECT}")
  message(FATAL_ERROR "${SOURCE}: the error does not say '${EXPECT}':\n${all}")
endif()
string(REGEX MATCH "[^\n]*error:[^\n]*" line "${all}")
message(STATUS "rejected as expected: ${line}")
