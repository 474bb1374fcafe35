/* tests/unit/test_places.c — the well-known places of a plugbayd (protocol/places.c): per user and for the system. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "places.h"

static char root[32];

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/bay-places-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    unsetenv("PLUGBAY_BROKER");
    unsetenv("XDG_STATE_HOME");
    unsetenv("XDG_RUNTIME_DIR");
    setenv("HOME", "/home/ada", 1);
}

static void teardown(void)
{
    char sock[96], dir[64];
    snprintf(dir, sizeof dir, "%s/plugbay", root);
    snprintf(sock, sizeof sock, "%s/plugbayd.sock", dir);
    unlink(sock);
    rmdir(dir);
    rmdir(root);
}

TestSuite(places, .init = setup, .fini = teardown);

Test(places, a_user_keeps_state_under_xdg_state_home_else_home)
{
    char buf[256];
    cr_assert(bay__place_state_dir(1000, buf, sizeof buf));
    cr_expect_str_eq(buf, "/home/ada/.local/state/plugbay");
    setenv("XDG_STATE_HOME", "/srv/ada-state", 1);
    cr_assert(bay__place_state_dir(1000, buf, sizeof buf));
    cr_expect_str_eq(buf, "/srv/ada-state/plugbay");
    setenv("XDG_STATE_HOME", "relative/state", 1); /* the spec ignores a relative path */
    cr_assert(bay__place_state_dir(1000, buf, sizeof buf));
    cr_expect_str_eq(buf, "/home/ada/.local/state/plugbay");
    unsetenv("XDG_STATE_HOME");
    unsetenv("HOME");
    cr_expect_not(bay__place_state_dir(1000, buf, sizeof buf), "nowhere to keep it: plugbayd asks for --state");
    cr_expect_not(bay__place_state_dir(1000, buf, 4), "too small a buffer");
}

Test(places, root_is_the_system_service)
{
    char buf[256];
    setenv("XDG_STATE_HOME", "/srv/ada-state", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/0", 1);
    cr_assert(bay__place_state_dir(0, buf, sizeof buf));
    cr_expect_str_eq(buf, "/var/lib/plugbay");
    cr_assert(bay__place_run_dir(0, buf, sizeof buf));
    cr_expect_str_eq(buf, "/run/plugbay");
    bay__place_broker_url(0, buf, sizeof buf, NULL, 0);
    cr_expect_str_eq(buf, "ipc:///run/plugbay/plugbayd.sock");
}

Test(places, a_user_listens_in_xdg_runtime_dir)
{
    char buf[256];
    cr_expect_not(bay__place_run_dir(1000, buf, sizeof buf), "no runtime folder: the socket stays in the state");
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    cr_assert(bay__place_run_dir(1000, buf, sizeof buf));
    cr_expect_str_eq(buf, "/run/user/1000/plugbay");
}

Test(places, a_client_dials_plugbay_broker_else_its_users_socket_when_there_else_the_systems)
{
    char url[256], tried[512], sock[96], dir[64];
    setenv("XDG_RUNTIME_DIR", root, 1);
    bay__place_broker_url(1000, url, sizeof url, tried, sizeof tried);
    cr_expect_str_eq(url, "ipc:///run/plugbay/plugbayd.sock", "the user's socket is not there");
    cr_expect(strstr(tried, "(not there)"), "%s", tried);
    snprintf(dir, sizeof dir, "%s/plugbay", root);
    snprintf(sock, sizeof sock, "%s/plugbayd.sock", dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    FILE *f = fopen(sock, "w");
    cr_assert_not_null(f);
    fclose(f);
    bay__place_broker_url(1000, url, sizeof url, tried, sizeof tried);
    char want[128];
    snprintf(want, sizeof want, "ipc://%s", sock);
    cr_expect_str_eq(url, want);
    setenv("PLUGBAY_BROKER", "ipc:///elsewhere.sock", 1);
    bay__place_broker_url(1000, url, sizeof url, tried, sizeof tried);
    cr_expect_str_eq(url, "ipc:///elsewhere.sock");
    cr_expect_str_eq(tried, "$PLUGBAY_BROKER");
}
