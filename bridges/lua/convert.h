/* bridges/lua/convert.h — converting call values between bay_value (msgpack) and Lua, for the Lua bridge. */
#ifndef BAY_LUA_CONVERT_H
#define BAY_LUA_CONVERT_H

#include <stddef.h>

#include <lua.h>
#include <plugbay/error.h>
#include <plugbay/value.h>

#include "value_convert.h" /* BAY_CONVERT_MAX_DEPTH */


/* lbay_convert_open creates the marker metatables of plugbay.array and
 * plugbay.map in L's registry. getmetatable() answers a marked table with the
 * marker's name, so plugin code cannot change a marker (a __gc added to one
 * would run, outside the instruction limit, for every table marked after).
 * Raises on memory errors (call it in protected mode). */
void lbay_convert_open(lua_State *L);

/* lbay_push pushes v as a Lua value: arrays and maps become tables marked with
 * the array or map metatable, so an empty one goes back as what it was; a nil
 * inside them becomes plugbay.null (a table cannot hold nil). Needs
 * lbay_convert_open. Raises on memory errors (call it in protected mode). */
void lbay_push(lua_State *L, const bay_value *v);

/* lbay_push_owned pushes v (a new value, NULL for nil) as lbay_push does and
 * frees it, also when pushing raises a memory error (which it passes on).
 * Returns 1: the tail of a Lua C function returning v. */
int lbay_push_owned(lua_State *L, bay_value *v);

/* lbay_push_null pushes plugbay.null, the light userdata that stands for nil
 * inside arrays and maps (both ways). */
void lbay_push_null(lua_State *L);

/* lbay_to_value converts the Lua value at idx into a new bay_value the caller
 * owns (*out). what names the value in messages ("result", "argument 2").
 * Never raises and never runs Lua code (no metamethods). Returns 0, BAY_ETYPE
 * with why (where in the value, what is wrong, what to do) in err, or BAY_ENOMEM
 * (also with why in err). */
int lbay_to_value(lua_State *L, int idx, const char *what, bay_value **out, bay_error *err);

/* lbay_mark_array and lbay_mark_map are plugbay.array(t) and plugbay.map(t):
 * they set the table t's metatable to the marker and return t (a new empty
 * table when called without one). Lua C functions; they raise on a bad argument. */
int lbay_mark_array(lua_State *L);
int lbay_mark_map(lua_State *L);

#endif
