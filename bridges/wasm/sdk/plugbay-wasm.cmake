# bridges/wasm/sdk/plugbay-wasm.cmake — bay_add_wasm_plugin() builds a C plugin to plugin.wasm with clang for wasm32-wasi; bay_add_wat_plugin() assembles a test module.
#
# Both do nothing (after saying so once) when the tools are missing, so that
# the rest of plugbay builds without them; scripts/install-deps installs them.

find_program(BAY_WASM_CLANG NAMES clang-14 clang)
find_program(BAY_WAT2WASM wat2wasm)
set(BAY_WASM_SDK_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "the wasm plugin SDK")
# plugbay's public headers (plugbay/error.h) are three folders up, in the sources (bridges/wasm/sdk)
# as installed (share/plugbay/wasm, the headers in include/).
get_filename_component(BAY_WASM_SDK_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/../../../include ABSOLUTE)

# How a C plugin is compiled and linked: a WASI reactor (constructors run by
# _initialize, no main), its stack below its data so that a stack overflow
# traps instead of overwriting data, no debug sections.
set(BAY_WASM_CFLAGS --target=wasm32-wasi -O2 -Wall -Wextra -Wno-unused-parameter -mexec-model=reactor
    -Wl,--stack-first -Wl,--strip-all -I${BAY_WASM_SDK_DIR} -I${BAY_WASM_SDK_INCLUDE}
    CACHE INTERNAL "clang flags of C wasm plugins")

# Probe once per configure whether clang, wasm-ld, wasi-libc and the wasm32
# builtins are all there, by building the smallest reactor.
set(BAY_WASM_PLUGINS OFF CACHE INTERNAL "C wasm plugins can be built")
if(BAY_WASM_CLANG)
  set(probe ${CMAKE_CURRENT_BINARY_DIR}/wasm-probe)
  file(WRITE ${probe}.c "int probe(void) { return 0; }\n")
  execute_process(COMMAND ${BAY_WASM_CLANG} ${BAY_WASM_CFLAGS} -o ${probe}.wasm ${probe}.c
                  RESULT_VARIABLE failed ERROR_VARIABLE why OUTPUT_QUIET)
  if(failed)
    string(STRIP "${why}" why)
    message(STATUS "wasm plugins skipped: ${BAY_WASM_CLANG} cannot build for wasm32-wasi (${why}); "
                   "scripts/install-deps installs clang-14, lld-14, wasi-libc and libclang-rt-14-dev-wasm32")
  else()
    set(BAY_WASM_PLUGINS ON CACHE INTERNAL "C wasm plugins can be built")
  endif()
else()
  message(STATUS "wasm plugins skipped: clang-14 not found (scripts/install-deps installs it)")
endif()

# bay_add_wasm_plugin(TARGET ID DIR OUT SOURCES...) compiles SOURCES (relative
# to the calling folder) with the SDK into OUT/ID/plugin.wasm, next to a copy
# of DIR/plugin.json.
function(bay_add_wasm_plugin target id dir out)
  if(NOT BAY_WASM_PLUGINS)
    return()
  endif()
  set(wasm ${out}/${id}/plugin.wasm)
  list(TRANSFORM ARGN PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
  add_custom_command(OUTPUT ${wasm}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}/${id}
    COMMAND ${BAY_WASM_CLANG} ${BAY_WASM_CFLAGS} -o ${wasm} ${ARGN} ${BAY_WASM_SDK_DIR}/plugbay_wasm.c
    DEPENDS ${ARGN} ${BAY_WASM_SDK_DIR}/plugbay_wasm.c ${BAY_WASM_SDK_DIR}/plugbay_wasm.h
    COMMENT "Building wasm plugin ${id}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${wasm})
  configure_file(${dir}/plugin.json ${out}/${id}/plugin.json COPYONLY)
endfunction()

# bay_add_wat_plugin(TARGET ID DIR OUT WAT [NO_CHECK]) assembles the text
# module WAT into OUT/ID/plugin.wasm, next to a copy of DIR/plugin.json.
# NO_CHECK skips validation, to make a module that fails it.
function(bay_add_wat_plugin target id dir out wat)
  if(NOT BAY_WASM_PLUGINS OR NOT BAY_WAT2WASM)
    return()
  endif()
  cmake_parse_arguments(PARSE_ARGV 5 opt "NO_CHECK" "" "")
  set(wasm ${out}/${id}/plugin.wasm)
  set(check)
  if(opt_NO_CHECK)
    set(check --no-check)
  endif()
  add_custom_command(OUTPUT ${wasm}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}/${id}
    COMMAND ${BAY_WAT2WASM} ${check} -o ${wasm} ${CMAKE_CURRENT_SOURCE_DIR}/${wat}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${wat}
    COMMENT "Assembling wasm test module ${id}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${wasm})
  configure_file(${dir}/plugin.json ${out}/${id}/plugin.json COPYONLY)
endfunction()
