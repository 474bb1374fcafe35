#!/usr/bin/env bash
# tests/install/install_test.sh SOURCE-DIR BUILD-DIR WASM(ON|OFF) — plugbay works installed: cmake --install into a
# temporary prefix; a host written here builds outside the tree with pkg-config alone and with find_package(plugbay)
# (and, WASM ON, the example wasm plugin with the installed SDK); the installed plugbayd, finding its workers in
# libexec/plugbay, serves a Lua (and the wasm) plugin to both hosts and to the installed plugbay; the man pages
# render, the bash completion parses and completes, systemd-analyze accepts the unit; the installed plugbay makes
# plugins from its templates and tests them with the installed plugbayd; the Python binding pip installs against the
# installed plugbay with pkg-config alone and calls the plugin.
set -euo pipefail
src=$1 build=$2 wasm=$3
work=$(mktemp -d /tmp/plugbay-install.XXXXXX)
prefix=$work/prefix broker_pid=
# cleanup stops the broker this test started and removes its folder.
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
unset LD_LIBRARY_PATH PLUGBAY_BROKER
# wait_for SECONDS WHAT COMMAND... runs COMMAND until it succeeds; fails, saying WHAT, after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "gave up waiting for $what" >&2
      [ -f "$work/plugbayd.log" ] && tail -20 "$work/plugbayd.log" >&2
      return 1
    fi
    sleep 0.1
  done
}
# expect WHAT WANTED COMMAND... runs COMMAND and fails unless its output holds WANTED.
expect() {
  local what=$1 wanted=$2 out
  shift 2
  out=$("$@" 2>&1) || { echo "$what failed: $out" >&2; return 1; }
  grep -qF -- "$wanted" <<<"$out" || { echo "$what printed \"$out\", not $wanted" >&2; return 1; }
  echo "ok: $what: $(head -1 <<<"$out")"
}

echo "== cmake --install --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in bin/plugbayd bin/plugbay libexec/plugbay/plugbay-worker-c libexec/plugbay/plugbay-worker-lua \
         lib/libplugbay.so lib/libplugbay.so.0 include/plugbay/plugbay.h lib/pkgconfig/plugbay.pc \
         lib/cmake/plugbay/plugbay-config.cmake share/plugbay/wasm/plugbay-wasm.cmake share/man/man1/plugbay.1 \
         share/man/man8/plugbayd.8 share/bash-completion/completions/plugbay lib/systemd/system/plugbayd.service \
         share/plugbay/templates/c/plugin.json; do
  [ -e "$prefix/$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
if ls "$prefix"/bin/plugbay-worker-* >/dev/null 2>&1; then
  echo "workers installed in bin/, not libexec/plugbay/" >&2
  exit 1
fi
readelf -d "$prefix/lib/libplugbay.so.0" | grep -q 'SONAME.*\[libplugbay\.so\.0\]' || { echo "libplugbay's soname is not libplugbay.so.0" >&2; exit 1; }

echo "== a host built outside the tree"
mkdir "$work/host"
cat >"$work/host/host.c" <<'EOF'
/* host.c — calls extension point argv[2] of the broker at argv[1] with ["install"] and prints the result as JSON. */
#include <plugbay/plugbay.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    bay_conn *conn;
    bay_error err;
    bay_value *args = NULL, *result = NULL;
    char *json = NULL;
    if (argc != 3 || bay_connect(argv[1], "install-test", &conn, &err) != 0) {
        fprintf(stderr, "cannot connect: %s\n", argc == 3 ? err.message : "usage: host URL EXTPOINT");
        return 1;
    }
    bay_value_from_json("[\"install\"]", &args, NULL, 0);
    int rc = bay_call(conn, argv[2], args, NULL, &result, &err);
    if (rc == 0 && bay_value_to_json(result, &json) == 0)
        printf("%s\n", json);
    else
        fprintf(stderr, "%s: %s\n", argv[2], err.message);
    free(json);
    bay_value_free(result);
    bay_value_free(args);
    bay_close(conn);
    return rc != 0;
}
EOF
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
echo "+ cc host.c \$(pkg-config --cflags --libs plugbay) -Wl,-rpath,\$(pkg-config --variable=libdir plugbay)"
# shellcheck disable=SC2046 # pkg-config's words are the flags
cc -Wall -Werror -o "$work/host/host-pc" "$work/host/host.c" $(pkg-config --cflags --libs plugbay) \
   -Wl,-rpath,"$(pkg-config --variable=libdir plugbay)"

mkdir "$work/project"
cp "$work/host/host.c" "$work/project/"
cat >"$work/project/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(install_test LANGUAGES C)
find_package(plugbay 0.1 REQUIRED)
add_executable(host host.c)
target_link_libraries(host PRIVATE plugbay::plugbay)
if(WASM)
  include(${plugbay_WASM_SDK_DIR}/plugbay-wasm.cmake)
  bay_add_wasm_plugin(wasm_hello wasm-hello ${CMAKE_CURRENT_SOURCE_DIR}/wasm-hello ${PLUGINS} wasm-hello/plugin.c)
endif()
EOF
mkdir -p "$work/plugins"
if [ "$wasm" = ON ]; then
  cp -r "$src/examples/wasm/hello" "$work/project/wasm-hello"
fi
echo "+ cmake -DCMAKE_PREFIX_PATH=$prefix (find_package(plugbay), target_link_libraries(host PRIVATE plugbay::plugbay))"
cmake -S "$work/project" -B "$work/project/build" -DCMAKE_PREFIX_PATH="$prefix" -DWASM="$wasm" \
      -DPLUGINS="$work/plugins" >"$work/project.log" || { cat "$work/project.log" >&2; exit 1; }
cmake --build "$work/project/build" >>"$work/project.log" || { cat "$work/project.log" >&2; exit 1; }
if [ "$wasm" = ON ]; then
  [ -f "$work/plugins/wasm-hello/plugin.wasm" ] || { echo "the installed wasm SDK built no plugin.wasm" >&2; exit 1; }
  echo "ok: the example wasm plugin built with PREFIX/share/plugbay/wasm/plugbay-wasm.cmake"
else
  echo "skipped: the wasm plugin (no wasm toolchain or worker in this build)"
fi

echo "== the installed plugbayd"
cp -r "$build/plugins/example/lua-hello" "$work/plugins/lua-hello"
url=ipc://$work/state/plugbayd.sock
"$prefix/bin/plugbayd" --state "$work/state" --plugins "$work/plugins" --autoinstall --exit-with-parent \
  --log "$work/plugbayd.log" &
broker_pid=$!
cli=("$prefix/bin/plugbay" --broker "$url")
wait_for 20 "plugbayd's socket" test -S "$work/state/plugbayd.sock"
# loaded ID tells whether plugin ID is loaded.
loaded() { "${cli[@]}" info "$1" --json | grep -q '"state":"loaded"'; }
wait_for 30 "lua-hello to load" loaded lua-hello
expect "pkg-config's host" '"Hello, install!"' "$work/host/host-pc" "$url" lua.greet
expect "find_package's host" '"Hello, install!"' "$work/project/build/host" "$url" lua.greet
expect "the installed plugbay" '"Hello, cli!"' "${cli[@]}" call lua.greet '["cli"]'
if [ "$wasm" = ON ]; then
  wait_for 120 "wasm-hello to load (its first compile)" loaded wasm-hello
  expect "pkg-config's host, the wasm plugin" '"Hello, install!"' "$work/host/host-pc" "$url" wasm.greet
fi

echo "== the Python binding, pip installed against the installed plugbay found by pkg-config alone"
cp -r "$src/bindings/python" "$work/python-src"  # pip builds in its source folder
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
env -u PLUGBAY_PREFIX -u PLUGBAY_BUILD_DIR -u PLUGBAY_INCLUDE_DIR -u PLUGBAY_LIB_DIR \
  "$work/venv/bin/pip" install -q --no-build-isolation --no-deps "$work/python-src" >"$work/pip.log" 2>&1 ||
  { cat "$work/pip.log" >&2; echo "pip install bindings/python failed" >&2; exit 1; }
expect "a Python host" "Hello, python!" "$work/venv/bin/python" -c \
  'import plugbay, sys; c = plugbay.connect(sys.argv[1]); print(c.call("lua.greet", "python")); c.close()' "$url"

echo "== the installed kit: plugbay new and plugbay test with the installed templates, pkg-config and plugbayd"
langs=(c lua)
[ "$wasm" = ON ] && langs+=(wasm)
for lang in "${langs[@]}"; do
  "$prefix/bin/plugbay" new --lang "$lang" "kit/$lang" "$work/kit-$lang" >/dev/null
  expect "plugbay test on the $lang template" " passed, 0 failed" env -u PKG_CONFIG_PATH \
    "$prefix/bin/plugbay" test "$work/kit-$lang"
done

echo "== the bash completion"
completion=$prefix/share/bash-completion/completions/plugbay
bash -n "$completion"
# completes WORDS... prints what the completion offers for the last of WORDS.
completes() {
  PATH=$prefix/bin:$PATH bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _plugbay;
                                  printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}
expect "completing plugbay unin" uninstall completes plugbay unin
expect "completing plugbay host r" remove completes plugbay host r
expect "completing plugbay --broker URL enable lua" lua-hello completes plugbay --broker "$url" enable lua

# stopped tells whether the broker has exited (a zombie until waited for).
stopped() { [ "$(ps -o stat= -p "$broker_pid")" = Z ] || ! kill -0 "$broker_pid"; }
kill -TERM "$broker_pid"
wait_for 40 "plugbayd to stop on SIGTERM" stopped
wait "$broker_pid" || { echo "plugbayd exited $? on SIGTERM" >&2; exit 1; }
broker_pid=

echo "== the man pages and the unit"
for page in man1/plugbay.1 man8/plugbayd.8; do
  if command -v man >/dev/null; then
    expect "man -l $page" NAME env MANWIDTH=80 man -l "$prefix/share/man/$page"
  elif command -v groff >/dev/null; then
    expect "groff -man $page" NAME groff -man -Tutf8 "$prefix/share/man/$page"
  else
    echo "skipped: rendering $page (neither man nor groff is installed)"
  fi
done
if command -v systemd-analyze >/dev/null; then
  # MANPATH: Documentation=man:plugbayd(8) must name an installed page.
  MANPATH=$prefix/share/man systemd-analyze verify "$prefix/lib/systemd/system/plugbayd.service"
  echo "ok: systemd-analyze verify plugbayd.service"
else
  echo "skipped: checking plugbayd.service (no systemd-analyze)"
fi
