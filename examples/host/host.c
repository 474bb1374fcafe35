/* examples/host/host.c — plugbay-example-host: a host application using libplugbay, one step per line.
 *
 * Run it next to plugbayd with the example plugins (example/hello, example/audit):
 *     plugbay-example-host [BROKER-URL]      (default: $PLUGBAY_BROKER)
 * It exits 0 when every step behaved as the comments say. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plugbay/plugbay.h>

static int surprises; /* steps that did not behave as expected */

/* print_json prints v as compact JSON. */
static void print_json(const bay_value *v)
{
    char *json = NULL;
    fputs(bay_value_to_json(v, &json) == 0 ? json : "?", stdout);
    free(json);
}

/* print_call prints `name(arg, arg) -> ` for a call about to show its outcome. */
static void print_call(const char *name, const bay_value *args)
{
    printf("%s(", name);
    for (size_t i = 0; i < bay_value_len(args); i++) {
        fputs(i ? ", " : "", stdout);
        print_json(bay_array_get(args, i));
    }
    fputs(") -> ", stdout);
}

/* print_error prints `error BAY_E... from PLUGIN: message`. */
static void print_error(int rc, const bay_error *err)
{
    printf("error %s", bay_errname(rc));
    if (err->plugin[0])
        printf(" from %s", err->plugin);
    printf(": %s\n", err->message);
}

/* print_outcome prints a call's result as JSON, or its error. */
static void print_outcome(int rc, const bay_value *result, const bay_error *err)
{
    if (rc) {
        print_error(rc, err);
        return;
    }
    print_json(result);
    putchar('\n');
}

/* expect notes a step that did not do what the tutorial says it does. */
static void expect(bool ok, const char *what)
{
    if (!ok) {
        surprises++;
        printf("    unexpected: %s\n", what);
    }
}

/* args_of turns this program's JSON literals into argument arrays. */
static bay_value *args_of(const char *json)
{
    bay_value *args = NULL;
    if (bay_value_from_json(json, &args, NULL, 0) != 0) {
        fprintf(stderr, "plugbay-example-host: bad JSON literal %s\n", json);
        exit(1);
    }
    return args;
}

/* call calls extension point name with JSON arguments and prints the line of the step. */
static int call(bay_conn *conn, const char *name, const char *json_args, bay_value **result, bay_error *err)
{
    bay_value *args = args_of(json_args);
    int rc = bay_call(conn, name, args, NULL, result, err);
    print_call(name, args);
    print_outcome(rc, *result, err);
    bay_value_free(args);
    return rc;
}

/* call_quietly is call without printing. */
static int call_quietly(bay_conn *conn, const char *name, const char *json_args, bay_value **result, bay_error *err)
{
    bay_value *args = args_of(json_args);
    int rc = bay_call(conn, name, args, NULL, result, err);
    bay_value_free(args);
    return rc;
}

/* set_greeting sets example/hello's setting "greeting" to text (NULL: back to its default) with the config
 * command, printing what it did. Returns the command's code. */
static int set_greeting(bay_conn *conn, const char *text)
{
    bay_value *args = bay_map(), *reply = NULL;
    bay_map_set(args, "id", bay_str("example/hello"));
    if (text) {
        bay_value *set = bay_map();
        bay_map_set(set, "greeting", bay_str(text));
        bay_map_set(args, "set", set);
    } else {
        bay_value *reset = bay_array();
        bay_array_push(reset, bay_str("greeting"));
        bay_map_set(args, "reset", reset);
    }
    bay_error err;
    int rc = bay_command(conn, "config", args, 0, &reply, &err);
    printf("config example/hello greeting%s%s -> ", text ? "=" : " reset to its default", text ? text : "");
    if (rc)
        print_error(rc, &err);
    else
        puts("done");
    bay_value_free(reply);
    bay_value_free(args);
    return rc;
}

/* host_log serves host.log(message): prints the message prefixed "[host] " and returns true. */
static int host_log(const bay_value *args, bay_value **result, bay_error *err, void *user)
{
    const bay_value *message = bay_array_get(args, 0);
    if (bay_value_type(message) != BAY_STR)
        return bay_error_set(err, BAY_ETYPE, NULL, "host.log: argument 1 must be a str, got %s",
                             bay_type_name(bay_value_type(message)));
    printf("[host] %s\n", bay_value_str(message, NULL));
    *result = bay_bool(true);
    return *result ? 0 : BAY_ENOMEM;
}

/* fail reports a step the program cannot go on without. */
static int fail(const char *step, const bay_error *err)
{
    fprintf(stderr, "plugbay-example-host: %s: %s (%s)\n", step, err->message, bay_errname(err->code));
    return 1;
}

int main(int argc, char **argv)
{
    bay_error err;
    bay_conn *conn;
    bay_value *result = NULL;
    int rc;

    /* 1. Connect: NULL means $PLUGBAY_BROKER, else the well-known places (your own plugbayd, else the system's). */
    if (bay_connect(argc > 1 ? argv[1] : NULL, "example-host", &conn, &err) != 0)
        return fail("connect", &err);
    puts("connected to plugbayd");

    /* 2. Declare the extension points this application offers plugins: greet
     * is a handle (one provider answers), app.started an event (all do). */
    if (bay_declare(conn, "greet", BAY_HANDLE, &err) != 0 || bay_declare(conn, "app.started", BAY_EVENT, &err) != 0)
        return fail("declare", &err);
    puts("declared greet (handle) and app.started (event)");

    /* 3. Provide one ourselves: host.log runs on libplugbay's dispatch thread. */
    if (bay_provide(conn, "host.log", BAY_HANDLE, NULL, host_log, NULL, &err) != 0)
        return fail("provide host.log", &err);
    puts("providing host.log (handle)");

    /* 4. A handle: the first provider in load order answers (example/hello). */
    rc = call(conn, "greet", "[\"world\"]", &result, &err);
    expect(rc == 0 && bay_value_type(result) == BAY_STR, "greet answers with a string");
    bay_value_free(result);

    /* 5. An event: every provider answers, in load order, each with a value or an error. */
    bay_value *args = args_of("[]");
    rc = bay_call(conn, "app.started", args, NULL, &result, &err);
    print_call("app.started", args);
    if (rc == 0)
        printf("%zu answers in load order\n", bay_value_len(result));
    else
        print_error(rc, &err);
    for (size_t i = 0; rc == 0 && i < bay_value_len(result); i++) {
        const bay_value *answer = bay_array_get(result, i);
        const bay_value *error = bay_map_get(answer, "error");
        printf("    %s: ", bay_value_str(bay_map_get(answer, "plugin"), NULL));
        if (error)
            printf("error %s: %s\n", bay_value_str(bay_map_get(error, "name"), NULL),
                   bay_value_str(bay_map_get(error, "message"), NULL));
        else
            print_outcome(0, bay_map_get(answer, "value"), NULL);
    }
    expect(rc == 0 && bay_value_len(result) > 0, "app.started gathers at least one answer");
    bay_value_free(result);
    bay_value_free(args);

    /* 6. Arguments and results are values: ints in, an int out. */
    rc = call(conn, "math.add", "[2, 40]", &result, &err);
    expect(rc == 0 && bay_value_int(result) == 42, "math.add(2, 40) is 42");
    bay_value_free(result);

    /* 7. A wrong argument type: the error says which plugin refused it and why. */
    rc = call(conn, "math.add", "[\"two\", 40]", &result, &err);
    expect(rc == BAY_ETYPE, "math.add(\"two\", 40) fails with BAY_ETYPE");
    bay_value_free(result);

    /* 8. Calls go both ways: host.log is served by this program, through the broker. */
    rc = call(conn, "host.log", "[\"hello from example-host\"]", &result, &err);
    expect(rc == 0 && bay_value_bool(result), "host.log returns true");
    bay_value_free(result);

    /* 9. Asynchronous: start a call, wait 1 ms; if it still runs, cancel it.
     * The outcome is then the result (it was already on its way) or BAY_ECANCELED. */
    args = args_of("[\"async world\"]");
    bay_pending *pending;
    if (bay_call_async(conn, "greet", args, NULL, &pending, &err) != 0)
        return fail("start greet", &err);
    rc = bay_pending_wait(pending, 1, &result, &err);
    if (rc == BAY_EPENDING) {
        puts("greet(\"async world\") still running after 1 ms: cancelling it");
        bay_pending_cancel(pending);
        rc = bay_pending_wait(pending, -1, &result, &err);
    }
    print_call("greet", args);
    print_outcome(rc, result, &err);
    expect(rc == 0 || rc == BAY_ECANCELED, "the async greet ends with its result or BAY_ECANCELED");
    bay_value_free(result);
    bay_pending_free(pending);
    bay_value_free(args);

    /* 10. Settings: an application's own settings panel changes example/hello's greeting (this host's user
     * must be an admin); the plugin hears of it at once, without a restart, and greets with it. Then back. */
    if (set_greeting(conn, "Bonjour") == 0) {
        bool heard = false;
        for (int i = 0; i < 500 && !heard; i++) { /* the plugin hears of it a moment after the answer */
            rc = call_quietly(conn, "greet", "[\"world\"]", &result, &err);
            heard = rc == 0 && strcmp(bay_value_str(result, NULL), "Bonjour, world!") == 0;
            bay_value_free(result);
            if (!heard)
                nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
        }
        rc = call(conn, "greet", "[\"world\"]", &result, &err);
        bay_value_free(result);
        expect(heard, "greet answers with the new greeting without a restart");
        set_greeting(conn, NULL);
    }

    /* 11. Close: pending calls fail with BAY_ECONN and host.log is withdrawn. */
    bay_close(conn);
    if (surprises)
        printf("%d step(s) did not behave as expected\n", surprises);
    else
        puts("every step behaved as expected");
    return surprises ? 1 : 0;
}
