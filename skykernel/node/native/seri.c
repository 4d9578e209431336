/* skynet.pack / skynet.unpack in C: skynet's lua-seri wire format, for every service.
 *
 * The same bytes and the same errors as runtime/lualib/skynet/seri.lua, which stays as
 * the fallback where no C compiler is at hand; tests/node/test_seri.py and
 * test_fuzz_seri.py hold the two (and skykernel/node/seri.py) to each other. Read that
 * file for the format and its rules; this one only says where C has to differ in how.
 *
 * Buffers: a pack writes into a buffer on the C stack and moves to a Lua userdata when
 * it outgrows it. A Lua error (a bad value, a __pairs that fails, the memory limit)
 * longjmps out of any depth, so nothing here is malloc'd: what a failed pack leaves is
 * garbage the collector takes, and the memory counts against the service's memlimit.
 *
 * Depth: both directions recurse once per nested table, and MAX_DEPTH bounds that, so
 * the C stack is bounded too; the Lua stack is checked at each level.
 */
#include <stdio.h>
#include <string.h>

#include "luaapi.h"

#define MAX_DEPTH 32
#define DEPTH_ERROR "serialize can't pack too depth table"

/* header bytes: type | cookie << 3 */
#define T_NIL 0
#define T_BOOLEAN 1
#define T_NUMBER 2
#define T_USERDATA 3
#define T_SHORT_STRING 4
#define T_LONG_STRING 5
#define T_TABLE 6

#define HEADER(t, c) ((uint8_t)((t) | (c) << 3))

/* --- pack --------------------------------------------------------------------------- */

struct wbuf {
	lua_State *L;
	uint8_t *p;
	size_t n, cap;
	int slot; /* stack slot anchoring the userdata once the buffer lives there */
	uint8_t local[512];
};

static void wgrow(struct wbuf *b, size_t need) {
	size_t cap = b->cap * 2;
	while (cap - b->n < need) {
		cap *= 2;
	}
	uint8_t *p = lua_newuserdatauv(b->L, cap, 0);
	memcpy(p, b->p, b->n);
	lua_copy(b->L, -1, b->slot); /* the old userdata, if any, is garbage now */
	lua_settop(b->L, -2);
	b->p = p;
	b->cap = cap;
}

static void wput(struct wbuf *b, const void *s, size_t len) {
	if (b->cap - b->n < len) {
		wgrow(b, len);
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
}

static void wbyte(struct wbuf *b, uint8_t c) {
	if (b->n == b->cap) {
		wgrow(b, 1);
	}
	b->p[b->n++] = c;
}

/* little-endian on any host, as the format is */
static void wle(struct wbuf *b, uint8_t header, uint64_t v, int bytes) {
	uint8_t h[9];
	h[0] = header;
	for (int i = 0; i < bytes; i++) {
		h[1 + i] = (uint8_t)(v >> (8 * i));
	}
	wput(b, h, 1 + bytes);
}

/* the smallest encoding, as skynet's wb_integer chooses it */
static void w_integer(struct wbuf *b, lua_Integer v) {
	if (v == 0) {
		wbyte(b, HEADER(T_NUMBER, 0));
	} else if (v > 0 && v < 0x100) {
		wle(b, HEADER(T_NUMBER, 1), (uint64_t)v, 1);
	} else if (v > 0 && v < 0x10000) {
		wle(b, HEADER(T_NUMBER, 2), (uint64_t)v, 2);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		wle(b, HEADER(T_NUMBER, 4), (uint64_t)(uint32_t)(int32_t)v, 4);
	} else {
		wle(b, HEADER(T_NUMBER, 6), (uint64_t)v, 8);
	}
}

static void w_real(struct wbuf *b, lua_Number d) {
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	wle(b, HEADER(T_NUMBER, 8), bits, 8);
}

static void w_string(struct wbuf *b, const char *s, size_t len) {
	if (len < 32) {
		wbyte(b, HEADER(T_SHORT_STRING, len));
	} else if (len < 0x10000) {
		wle(b, HEADER(T_LONG_STRING, 2), len, 2);
	} else if (len <= 0xffffffffu) {
		wle(b, HEADER(T_LONG_STRING, 4), len, 4);
	} else {
		luaapi_fail(b->L, "serialize can't pack a string of %I bytes", (lua_Integer)len);
	}
	wput(b, s, len);
}

static void pack_value(struct wbuf *b, int idx, int depth);

/* What __pairs yields, all as key-value pairs after an empty array part. Deeper than
 * MAX_DEPTH it may yield nothing, as a plain table may hold nothing there. */
static void pack_pairs(struct wbuf *b, int idx, int depth) {
	lua_State *L = b->L;
	/* stack: ... __pairs */
	lua_pushvalue(L, idx);
	lua_callk(L, 1, 3, 0, NULL);
	int f = lua_gettop(L) - 2; /* iterator, state, control */
	wbyte(b, HEADER(T_TABLE, 0));
	for (;;) {
		lua_pushvalue(L, f);
		lua_pushvalue(L, f + 1);
		lua_pushvalue(L, f + 2);
		lua_callk(L, 2, 2, 0, NULL);
		int top = lua_gettop(L);
		if (lua_type(L, top - 1) == LUA_TNIL) {
			break;
		}
		if (depth > MAX_DEPTH) {
			luaapi_fail(L, DEPTH_ERROR);
		}
		pack_value(b, top - 1, depth);
		pack_value(b, top, depth);
		lua_copy(L, top - 1, f + 2);
		lua_settop(L, top - 2);
	}
	lua_settop(L, f - 1);
	wbyte(b, 0);
}

/* The array part 1..rawlen in order, then every other pair in `next` order. */
static void pack_table(struct wbuf *b, int idx, int depth) {
	lua_State *L = b->L;
	luaL_checkstack(L, 8, NULL);
	int mm = luaL_getmetafield(L, idx, "__pairs");
	if (mm != LUA_TNIL) {
		if (lua_toboolean(L, -1)) {
			pack_pairs(b, idx, depth);
			return;
		}
		lua_settop(L, -2); /* __pairs = false: a plain table */
	}
	lua_Unsigned asize = lua_rawlen(L, idx);
	if (depth > MAX_DEPTH) {
		lua_pushnil(L);
		if (asize > 0 || lua_next(L, idx)) {
			luaapi_fail(L, DEPTH_ERROR);
		}
	}
	if (asize < 31) {
		wbyte(b, HEADER(T_TABLE, asize));
	} else {
		wbyte(b, HEADER(T_TABLE, 31));
		w_integer(b, (lua_Integer)asize);
	}
	for (lua_Unsigned i = 1; i <= asize; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i);
		pack_value(b, lua_gettop(L), depth);
		lua_settop(L, -2);
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int top = lua_gettop(L);
		if (lua_type(L, top - 1) == LUA_TNUMBER && lua_isinteger(L, top - 1)) {
			lua_Integer k = lua_tointegerx(L, top - 1, NULL);
			if (k >= 1 && (lua_Unsigned)k <= asize) { /* an array slot, packed above */
				lua_settop(L, top - 1);
				continue;
			}
		}
		pack_value(b, top - 1, depth);
		pack_value(b, top, depth);
		lua_settop(L, top - 1);
	}
	wbyte(b, 0);
}

/* Writes the value at stack index idx (absolute); a table there sits at depth + 1. */
static void pack_value(struct wbuf *b, int idx, int depth) {
	lua_State *L = b->L;
	int t = lua_type(L, idx);
	switch (t) {
	case LUA_TNIL:
		wbyte(b, HEADER(T_NIL, 0));
		break;
	case LUA_TBOOLEAN:
		wbyte(b, HEADER(T_BOOLEAN, lua_toboolean(L, idx) ? 1 : 0));
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx)) {
			w_integer(b, lua_tointegerx(L, idx, NULL));
		} else {
			w_real(b, lua_tonumberx(L, idx, NULL));
		}
		break;
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		w_string(b, s, len);
		break;
	}
	case LUA_TTABLE:
		pack_table(b, idx, depth + 1);
		break;
	default:
		luaapi_fail(L, "Unsupport type %s to serialize", lua_typename(L, t));
	}
}

static int l_pack(lua_State *L) {
	int n = lua_gettop(L);
	struct wbuf b;
	b.L = L;
	b.p = b.local;
	b.n = 0;
	b.cap = sizeof b.local;
	lua_pushnil(L);
	b.slot = n + 1;
	for (int i = 1; i <= n; i++) {
		pack_value(&b, i, 0);
	}
	lua_pushlstring(L, (const char *)b.p, b.n);
	return 1;
}

/* --- unpack ------------------------------------------------------------------------- */

struct rbuf {
	lua_State *L;
	const uint8_t *s;
	size_t len;
};

/* positions in messages count from 1, as in seri.lua */
static void invalid(struct rbuf *r, size_t pos, const char *what) {
	luaapi_fail(r->L, "Invalid serialize stream (%s at byte %I)", what, (lua_Integer)(pos + 1));
}

static void invalid_n(struct rbuf *r, size_t pos, const char *what, int n) {
	char buf[40];
	snprintf(buf, sizeof buf, "%s %d", what, n);
	invalid(r, pos, buf);
}

static uint64_t rle(const uint8_t *p, int bytes) {
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

static void unpack_value(struct rbuf *r, size_t *ppos, int depth);

/* The table whose header is at hpos; c is the header's cookie. */
static void unpack_table(struct rbuf *r, size_t hpos, int c, size_t *ppos, int depth) {
	lua_State *L = r->L;
	const uint8_t *s = r->s;
	size_t len = r->len, pos = hpos + 1;
	lua_Integer asize = c;
	if (c == 31) {
		if (pos >= len || (s[pos] & 7) != T_NUMBER || (s[pos] >> 3) == 8) {
			invalid(r, pos, "bad array size");
		}
		unpack_value(r, &pos, depth);
		asize = lua_tointegerx(L, -1, NULL);
		lua_settop(L, -2);
	}
	depth++; /* this table's items are one level deeper */
	if (depth > MAX_DEPTH && (asize > 0 || pos >= len || (s[pos] & 7) != T_NIL)) {
		invalid(r, hpos, "too depth table");
	}
	luaL_checkstack(L, 4, NULL);
	/* every item takes a byte at least: a size the stream cannot hold allocates nothing */
	lua_Integer narr = asize > 0 ? asize : 0;
	if ((lua_Unsigned)narr > len - pos) {
		narr = (lua_Integer)(len - pos);
	}
	lua_createtable(L, narr > 0x7fffffff ? 0 : (int)narr, 0);
	for (lua_Integer i = 1; i <= asize; i++) {
		unpack_value(r, &pos, depth);
		lua_rawseti(L, -2, i);
	}
	for (;;) {
		if (pos < len && s[pos] == 0) {
			*ppos = pos + 1;
			return;
		}
		size_t kpos = pos;
		unpack_value(r, &pos, depth);
		int kt = lua_type(L, -1);
		if (kt == LUA_TNIL) { /* a nil with a cookie ends the table too */
			lua_settop(L, -2);
			*ppos = pos;
			return;
		}
		if (kt == LUA_TNUMBER && !lua_isinteger(L, -1)) {
			lua_Number k = lua_tonumberx(L, -1, NULL);
			if (k != k) { /* Lua's own error here would carry no stream position */
				invalid(r, kpos, "table index is NaN");
			}
		}
		unpack_value(r, &pos, depth);
		lua_rawset(L, -3);
	}
}

/* Pushes the value whose header is at *ppos and moves *ppos past it. depth is how many
 * tables enclose it. */
static void unpack_value(struct rbuf *r, size_t *ppos, int depth) {
	lua_State *L = r->L;
	const uint8_t *s = r->s;
	size_t len = r->len, pos = *ppos;
	if (pos >= len) {
		invalid(r, pos, "truncated");
	}
	int t = s[pos] & 7, c = s[pos] >> 3;
	switch (t) {
	case T_SHORT_STRING:
		if (pos + c >= len) {
			invalid(r, pos, "truncated string");
		}
		lua_pushlstring(L, (const char *)s + pos + 1, c);
		*ppos = pos + 1 + c;
		return;
	case T_NUMBER: {
		int bytes;
		switch (c) {
		case 0:
			lua_pushinteger(L, 0);
			*ppos = pos + 1;
			return;
		case 1: bytes = 1; break;
		case 2: bytes = 2; break;
		case 4: bytes = 4; break;
		case 6: bytes = 8; break;
		case 8: bytes = 8; break;
		default:
			invalid_n(r, pos, "bad number cookie", c);
			return;
		}
		if (len - pos - 1 < (size_t)bytes) {
			invalid(r, pos, "truncated number");
		}
		uint64_t v = rle(s + pos + 1, bytes);
		if (c == 8) {
			lua_Number d;
			memcpy(&d, &v, sizeof d);
			lua_pushnumber(L, d);
		} else if (c == 4) {
			lua_pushinteger(L, (int32_t)(uint32_t)v);
		} else {
			lua_pushinteger(L, (lua_Integer)v);
		}
		*ppos = pos + 1 + bytes;
		return;
	}
	case T_TABLE:
		unpack_table(r, pos, c, ppos, depth);
		return;
	case T_BOOLEAN:
		lua_pushboolean(L, c != 0);
		*ppos = pos + 1;
		return;
	case T_NIL:
		lua_pushnil(L);
		*ppos = pos + 1;
		return;
	case T_LONG_STRING: {
		if ((c != 2 && c != 4) || len - pos - 1 < (size_t)c) {
			invalid(r, pos, "bad long string header");
		}
		size_t n = (size_t)rle(s + pos + 1, c);
		size_t start = pos + 1 + c;
		if (len - start < n) {
			invalid(r, pos, "truncated string");
		}
		lua_pushlstring(L, (const char *)s + start, n);
		*ppos = start + n;
		return;
	}
	case T_USERDATA:
		/* a C pointer means something only inside the process that packed it: the
		 * address comes back as an integer, as seri.lua gives it */
		if (len - pos - 1 < 8) {
			invalid(r, pos, "truncated pointer");
		}
		lua_pushinteger(L, (lua_Integer)rle(s + pos + 1, 8));
		*ppos = pos + 9;
		return;
	default:
		invalid_n(r, pos, "bad type", t);
	}
}

/* unpack(msg [, sz]): the values in msg, or in its first sz bytes (sz <= 0: none). */
static int l_unpack(lua_State *L) {
	int t = lua_type(L, 1);
	if (t == LUA_TNIL || t == LUA_TNONE) {
		return 0;
	}
	if (t != LUA_TSTRING) {
		return luaapi_fail(L, "bad argument #1 to 'unpack' (string expected, got %s)",
		                  lua_typename(L, t));
	}
	struct rbuf r;
	r.L = L;
	r.s = (const uint8_t *)lua_tolstring(L, 1, &r.len);
	if (lua_type(L, 2) > LUA_TNIL && lua_toboolean(L, 2)) {
		int isint;
		lua_Integer sz = lua_tointegerx(L, 2, &isint);
		if (!isint) {
			return luaapi_fail(L, "bad argument #2 to 'unpack' (size expected, got %s)",
			                  lua_typename(L, lua_type(L, 2)));
		}
		if (sz < (lua_Integer)r.len) {
			if (sz <= 0) {
				return 0;
			}
			r.len = (size_t)sz;
		}
	}
	lua_settop(L, 1); /* the string stays anchored while its bytes are read */
	size_t pos = 0;
	int n = 0;
	while (pos < r.len) {
		luaL_checkstack(L, 2, "too many results to unpack");
		unpack_value(&r, &pos, 0);
		n++;
	}
	return n;
}

int luaopen_skynet_seri(lua_State *L) {
	lua_createtable(L, 0, 3);
	lua_pushcclosure(L, l_pack, 0);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "pack");
	lua_setfield(L, -2, "packstring");
	lua_pushcclosure(L, l_unpack, 0);
	lua_setfield(L, -2, "unpack");
	return 1;
}
