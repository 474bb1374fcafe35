/* tests/unit/test_plugin_alias.c — a plugin written against the old type name bay_call still builds (plugin.h). */
#include <criterion/criterion.h>

#include <plugbay/plugin.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* the point: the old name, deprecated, still works */

static int legacy(bay_call *call, const bay_value *args, bay_value **result)
{
    (void)call;
    (void)args;
    *result = NULL;
    return 0;
}

Test(plugin_alias, a_function_taking_bay_call_is_a_plugin_function)
{
    bay_plugin_fn fn = legacy;
    bay_value *result = (bay_value *)&fn; /* anything but NULL */
    cr_assert_eq(fn((bay_invocation *)NULL, NULL, &result), 0);
    cr_assert_null(result);
}
