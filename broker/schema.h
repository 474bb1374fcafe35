/* broker/schema.h — the shapes of typed extension points: a subset of JSON Schema (2020-12) read from a host's
 * declaration or a manifest, and checked against the msgpack values that cross plugbayd (docs/types.md).
 *
 * The subset: "type" (one name or a list of "null", "boolean", "integer", "number", "string", "binary", "array",
 * "object"; "binary" is msgpack's bin, which JSON lacks), "enum" (scalars), "minimum", "maximum", "minLength",
 * "maxLength" (strings in UTF-8 bytes, binaries in bytes), "items", "prefixItems", "minItems", "maxItems",
 * "properties", "required", "additionalProperties" (a boolean or a schema), "anyOf", and "title",
 * "description" and "$comment", which say nothing about values. Any other keyword is refused, so that a typo
 * is an error and not a check silently left out. */
#ifndef BAY_SCHEMA_H
#define BAY_SCHEMA_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include <plugbay/error.h>

typedef struct bay__schema bay__schema;

/* bay__schema_parse reads j into a new schema in *out (the caller frees it
 * with bay__schema_free). Returns 0, or BAY_EINVAL with err saying where and
 * what ("at /prefixItems/0: unknown keyword \"tpye\"; ..."). */
int bay__schema_parse(const json_t *j, bay__schema **out, bay_error *err);

/* bay__schema_free frees s; NULL is ignored. */
void bay__schema_free(bay__schema *s);

/* bay__schema_check checks v against s: 0, or BAY_ETYPE with why (len bytes)
 * naming the place in v and what was expected ("at [0].name: expected a
 * string, got an int"). */
int bay__schema_check(const bay__schema *s, const msgpack_object *v, char *why, size_t len);

/* bay__schema_check_item checks v as item index of an array s describes
 * (one chunk of a streamed result): 0, or BAY_ETYPE with why, as
 * bay__schema_check, also when s allows no array or has anyOf at its top
 * (chunks cannot be checked one by one then). minItems is not checked. */
int bay__schema_check_item(const bay__schema *s, size_t index, const msgpack_object *v, char *why, size_t len);

/* An extension point's types, parsed: NULL where they say nothing. */
typedef struct bay__types {
    bay__schema *args;   /* the arguments array (a filter's providers pass on arguments of this shape too) */
    bay__schema *result; /* a handle's result (streamed: an array, chunk by chunk), each provider's value in an event */
    bay__schema *input;  /* a handle's streamed input (bay_call_upload), as an array: each chunk its next item */
} bay__types;

/* bay__types_parse reads the types of an extension point of kind (BAY_HANDLE,
 * BAY_EVENT or BAY_FILTER; 0 when not known yet) ({"args": SCHEMA, "result":
 * SCHEMA, "input": SCHEMA}, each absent or not, "input" a handle's only) into
 * *out (the caller frees it with bay__types_free). Returns 0, or BAY_EINVAL
 * with err naming the part ("\"args\": at /...: ...") and *out empty. */
int bay__types_parse(const json_t *types, int kind, bay__types *out, bay_error *err);

/* bay__types_free frees what t holds and empties it. */
void bay__types_free(bay__types *t);

/* bay__schema_same compares two schemas as JSON: true when they are equal
 * (the order of an object's keys does not count); else false with where (len
 * bytes) naming the first place they differ ("/prefixItems/0/type: \"string\"
 * against \"integer\""). */
bool bay__schema_same(const json_t *a, const json_t *b, char *where, size_t len);

#endif
