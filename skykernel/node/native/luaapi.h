/* The part of the Lua C API that skykernel's own C uses, declared for both Lua versions
 * a node runs (5.4 and 5.5).
 *
 * Why not lua.h: no Lua headers come with lupa's wheels, Debian has none for 5.5, and
 * the C is compiled on the user's machine the first time a node needs it. Every
 * declaration below has the same signature in 5.4 and 5.5 (checked against lupa 2.8's
 * lua54 and lua55 sources), and the types are Lua's defaults, which lupa builds with:
 * lua_Integer is long long, lua_Number is double. Anything that differs between the two
 * versions (LUA_REGISTRYINDEX, luaL_Buffer's layout, lua_newstate) is left out on
 * purpose: code that needs it does not belong here.
 */
#ifndef SKYKERNEL_LUAAPI_H
#define SKYKERNEL_LUAAPI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lua_State lua_State;
typedef long long lua_Integer;
typedef unsigned long long lua_Unsigned;
typedef double lua_Number;
typedef intptr_t lua_KContext;
typedef int (*lua_CFunction)(lua_State *L);
typedef int (*lua_KFunction)(lua_State *L, int status, lua_KContext ctx);

#define LUA_TNONE (-1)
#define LUA_TNIL 0
#define LUA_TBOOLEAN 1
#define LUA_TLIGHTUSERDATA 2
#define LUA_TNUMBER 3
#define LUA_TSTRING 4
#define LUA_TTABLE 5

#define LUA_MINSTACK 20

int lua_gettop(lua_State *L);
void lua_settop(lua_State *L, int idx);
void lua_pushvalue(lua_State *L, int idx);
void lua_copy(lua_State *L, int fromidx, int toidx);
int lua_checkstack(lua_State *L, int n);

int lua_type(lua_State *L, int idx);
const char *lua_typename(lua_State *L, int tp);
int lua_isinteger(lua_State *L, int idx);
int lua_toboolean(lua_State *L, int idx);
lua_Integer lua_tointegerx(lua_State *L, int idx, int *isnum);
lua_Number lua_tonumberx(lua_State *L, int idx, int *isnum);
const char *lua_tolstring(lua_State *L, int idx, size_t *len);
lua_Unsigned lua_rawlen(lua_State *L, int idx);

void lua_pushnil(lua_State *L);
void lua_pushboolean(lua_State *L, int b);
void lua_pushinteger(lua_State *L, lua_Integer n);
void lua_pushnumber(lua_State *L, lua_Number n);
const char *lua_pushlstring(lua_State *L, const char *s, size_t len);
const char *lua_pushvfstring(lua_State *L, const char *fmt, va_list argp);
void lua_pushcclosure(lua_State *L, lua_CFunction fn, int n);

int lua_rawgeti(lua_State *L, int idx, lua_Integer n);
void lua_rawseti(lua_State *L, int idx, lua_Integer n);
void lua_rawset(lua_State *L, int idx);
void lua_setfield(lua_State *L, int idx, const char *k);
int lua_next(lua_State *L, int idx);
void lua_createtable(lua_State *L, int narr, int nrec);
void *lua_newuserdatauv(lua_State *L, size_t sz, int nuvalue);
void lua_callk(lua_State *L, int nargs, int nresults, lua_KContext ctx, lua_KFunction k);

int lua_error(lua_State *L);

int luaL_getmetafield(lua_State *L, int obj, const char *e);
void luaL_checkstack(lua_State *L, int sz, const char *msg);

/* A Lua error with this message and no position, as Lua's error(msg, 0): what the C
 * refuses is the data's fault, not the line that asked. (luaL_error would prefix the
 * caller's file and line.) */
static inline int luaapi_fail(lua_State *L, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	return lua_error(L);
}

#endif
