/* tests/unit/test_order.c — load order by dependencies and the cycles that leave plugins without one (broker/order.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

#define MAX 8

/* A case: plugins in the order given, each "id:dep,dep" or "id@place:dep,dep" (place 0 when absent); the load
 * order expected, and which are cyclic with what message. */
typedef struct order_case {
    const char *name;
    const char *plugins[MAX];
    const char *expect[MAX];  /* ids in load order */
    const char *cycles[MAX];  /* "id=message" for each cyclic plugin */
} order_case;

static const order_case cases[] = {
    {"no dependencies keep the preferred order", {"a", "b", "c"}, {"a", "b", "c"}, {NULL}},
    {"a dependency loads first", {"a:b", "b"}, {"b", "a"}, {NULL}},
    {"a chain loads from its end", {"a:b", "b:c", "c"}, {"c", "b", "a"}, {NULL}},
    {"a diamond", {"d:b,c", "c:a", "b:a", "a"}, {"a", "c", "b", "d"}, {NULL}},
    {"otherwise as early as the preferred order allows", {"x", "a:z", "y", "z"}, {"x", "y", "z", "a"}, {NULL}},
    {"a missing dependency holds nothing back", {"a:gone", "b"}, {"a", "b"}, {NULL}},
    {"a cycle of two is invalid and last", {"a:b", "b:a", "c"}, {"c", "a", "b"},
     {"a=dependency cycle: a -> b -> a", "b=dependency cycle: b -> a -> b"}},
    {"a plugin depending on itself", {"a:a", "b"}, {"b", "a"}, {"a=dependency cycle: a -> a"}},
    {"behind a cycle is invalid too", {"c:a", "a:b", "b:a", "d:c"}, {"c", "a", "b", "d"},
     {"c=dependency cycle: c -> a -> b -> a", "a=dependency cycle: a -> b -> a", "b=dependency cycle: b -> a -> b",
      "d=dependency cycle: d -> c -> a -> b -> a"}},
    {"a lower place comes first", {"a@10", "b", "c@-1"}, {"c", "b", "a"}, {NULL}},
    {"one place keeps the order given", {"a@3", "b@3", "c@1"}, {"c", "a", "b"}, {NULL}},
    {"dependencies win over places", {"a@0:b", "b@20", "c@10"}, {"c", "b", "a"}, {NULL}},
    {"a place does not pull a plugin before its dependency", {"a@-5:b", "b@5", "c@0"}, {"c", "b", "a"}, {NULL}},
    {"a cycle is last whatever its places", {"a@-9:b", "b@-9:a", "c@9"}, {"c", "a", "b"},
     {"a=dependency cycle: a -> b -> a", "b=dependency cycle: b -> a -> b"}},
};

/* A parsed plugin of a case. */
struct parsed {
    char id[16];
    bay__dep_decl deps[MAX];
    char names[MAX][16];
};

static size_t parse(const order_case *t, struct parsed *p, order_item *items)
{
    size_t n = 0;
    for (; n < MAX && t->plugins[n]; n++) {
        const char *spec = t->plugins[n], *colon = strchr(spec, ':');
        size_t idlen = strcspn(spec, "@:");
        snprintf(p[n].id, sizeof p[n].id, "%.*s", (int)idlen, spec);
        int64_t place = spec[idlen] == '@' ? strtoll(spec + idlen + 1, NULL, 10) : 0;
        size_t nd = 0;
        for (const char *d = colon ? colon + 1 : NULL; d && *d && nd < MAX; d += strcspn(d, ","), d += *d == ',') {
            snprintf(p[n].names[nd], sizeof p[n].names[nd], "%.*s", (int)strcspn(d, ","), d);
            p[n].deps[nd] = (bay__dep_decl){.id = p[n].names[nd], .range = "*"};
            nd++;
        }
        items[n] = (order_item){.id = p[n].id, .deps = nd ? p[n].deps : NULL, .ndeps = nd, .place = place};
    }
    return n;
}

Test(order, every_case_of_the_table)
{
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const order_case *t = &cases[c];
        struct parsed p[MAX];
        order_item items[MAX];
        size_t n = parse(t, p, items);
        cr_assert_eq(order_plugins(items, n), 0, "%s", t->name);
        for (size_t i = 0; i < n; i++) {
            cr_assert_lt(items[i].rank, n, "%s: %s ranked %zu", t->name, items[i].id, items[i].rank);
            cr_assert_str_eq(t->expect[items[i].rank], items[i].id, "%s: rank %zu is %s, expected %s", t->name,
                             items[i].rank, items[i].id, t->expect[items[i].rank]);
            const char *want = NULL;
            for (size_t k = 0; k < MAX && t->cycles[k] && !want; k++)
                if (strncmp(t->cycles[k], items[i].id, strlen(items[i].id)) == 0 && t->cycles[k][strlen(items[i].id)] == '=')
                    want = t->cycles[k] + strlen(items[i].id) + 1;
            cr_assert_eq(items[i].cyclic, want != NULL, "%s: %s cyclic %d", t->name, items[i].id, items[i].cyclic);
            if (want)
                cr_assert_str_eq(items[i].cycle, want, "%s", t->name);
            else
                cr_assert_str_empty(items[i].cycle, "%s", t->name);
        }
    }
}

Test(order, nothing_to_order)
{
    cr_assert_eq(order_plugins(NULL, 0), 0);
}
