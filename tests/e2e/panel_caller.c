/* tests/e2e/panel_caller.c — a host that runs one `panel.call` (args ["Eve"]) and prints how it ended, for test_panels.c to run
 * as another local user: panel_caller URL ID NAME prints "ok: RESULT-JSON" (exit 0) or "ERRNAME: message" (exit 1). */
#include <stdio.h>
#include <stdlib.h>

#include <plugbay/plugbay.h>

int main(int argc, char **argv)
{
    bay_conn *c;
    bay_error e;
    bay_value *args = bay_map(), *res = NULL;
    if (argc != 4)
        return 2;
    bay_map_set(args, "id", bay_str(argv[2]));
    bay_map_set(args, "name", bay_str(argv[3]));
    bay_value *call_args = bay_array();
    bay_array_push(call_args, bay_str("Eve"));
    bay_map_set(args, "args", call_args);
    int rc = bay_connect(argv[1], "panel-caller", &c, &e);
    if (rc == 0) {
        rc = bay_command(c, "panel.call", args, 10000, &res, &e);
        bay_close(c);
    }
    char *json = NULL;
    if (rc == 0 && bay_value_to_json(res, &json) == 0)
        printf("ok: %s\n", json);
    else
        printf("%s: %s\n", bay_errname(rc), e.message);
    free(json);
    bay_value_free(args);
    bay_value_free(res);
    return rc ? 1 : 0;
}
