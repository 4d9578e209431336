/* The direct write: a service's socket.write goes from its Lua straight to the kernel.
 *
 * skynet's socket_server writes at once, on the caller's thread, when nothing waits to
 * be sent on the socket (can_direct_write), and leaves the rest to the socket thread.
 * skykernel does the same, but the socket server is Python (node/net/server.py): a
 * write made there takes the GIL, which every other worker then waits for, and it was
 * the largest share of the Python in an echoed packet. Here the common case (nothing
 * queued, the kernel takes it all) runs in C with no Python at all; anything else goes
 * to the socket server, which keeps every rule of queuing, warning and closing.
 *
 * Each node's socket server owns a table of slots (one per socket, skynet's MAX_SOCKET
 * of them, a socket id's slot being id % SLOTS, as skynet's HASH_ID); the server makes
 * sure no two live ids share one. A slot is `open` for direct writes only while the
 * server says so: a connected socket with nothing queued. The rules between the two:
 *   - C writes only while `open`, under the slot's lock;
 *   - a write the kernel takes only part of leaves its rest `held` here and closes the
 *     slot: the write then calls the server at once, which takes the rest before
 *     anything else (so bytes never pass each other) and queues it;
 *   - the server opens a slot again only with its queues empty and nothing held, and
 *     closes it before a socket leaves the writable states;
 *   - the server forgets a slot (detach) before it closes the descriptor, so C never
 *     writes to a descriptor number that something else may have been given since.
 *
 * The lock is a spin lock (as skynet's socket lock): what it guards is one send(2), and
 * a table of zeroed slots then needs no initialising. A server's table is never freed,
 * only reused by the next node with a new generation: a stale key is refused, never
 * followed into freed memory. Every argument from Lua is checked; a bad one is a Lua
 * error, never a crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "luaapi.h"

#define SLOTS 65536 /* skynet's MAX_SOCKET; node/net/server.py agrees */
#define SERVERS 1024
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* where there is none, Python has SIGPIPE ignored already */
#endif
#define WRITE_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL)
/* sk_direct_write's answer when a rest is held: node/net/directwrite.py knows it too */
#define HELD_FIRST (-1000000LL)

struct slot {
	char lock;
	char attached; /* the server gave it a socket (sid, fd) */
	char open;     /* direct writes allowed */
	int sid;
	int fd;
	int failed; /* an errno the server must hear of (the rest could not be held) */
	char *held;
	size_t held_len;
	unsigned long long written;
	double wtime;
};

struct server {
	long long gen;
	int used;
	int attached; /* slots attached now: a reused table is cleared only if some are */
	struct slot slot[SLOTS];
};

static struct server *servers[SERVERS];
static long long generation;
static pthread_mutex_t servers_lock = PTHREAD_MUTEX_INITIALIZER;

static void slot_lock(struct slot *s) {
	while (__atomic_test_and_set(&s->lock, __ATOMIC_ACQUIRE)) {
		sched_yield();
	}
}

static void slot_unlock(struct slot *s) {
	__atomic_clear(&s->lock, __ATOMIC_RELEASE);
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* Python's time.monotonic on Linux */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct server *lookup(long long key) {
	if (key < 0) {
		return NULL;
	}
	struct server *sv = servers[key % SERVERS];
	if (sv == NULL || !__atomic_load_n(&sv->used, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&sv->gen, __ATOMIC_ACQUIRE) != key / SERVERS) {
		return NULL;
	}
	return sv;
}

/* The slot of socket `sid` in `sv`, locked, if the server attached it; else NULL. */
static struct slot *locked_in(struct server *sv, long long sid) {
	if (sv == NULL || sid <= 0 || sid > 0x7fffffff) {
		return NULL;
	}
	struct slot *s = &sv->slot[sid % SLOTS];
	slot_lock(s);
	if (!s->attached || s->sid != sid) {
		slot_unlock(s);
		return NULL;
	}
	return s;
}

static struct slot *locked(long long key, long long sid) {
	return locked_in(lookup(key), sid);
}

static void drop_held(struct slot *s) {
	free(s->held);
	s->held = NULL;
	s->held_len = 0;
}

static void wrote(struct slot *s, size_t n) {
	s->written += n;
	s->wtime = now();
}

/* --- the socket server's side (node/net/directwrite.py, through ctypes) ------------- */

/* A table for a new socket server: its key, or -1 if none is left. */
long long sk_direct_new(void) {
	long long key = -1;
	pthread_mutex_lock(&servers_lock);
	for (int i = 0; i < SERVERS; i++) {
		struct server *sv = servers[i];
		if (sv != NULL && sv->used) {
			continue;
		}
		if (sv == NULL) {
			sv = calloc(1, sizeof(*sv)); /* large: mapped lazily, zeroed pages */
			if (sv == NULL) {
				break;
			}
			servers[i] = sv;
		} else if (sv->attached) {
			for (int k = 0; k < SLOTS; k++) {
				drop_held(&sv->slot[k]);
				sv->slot[k].attached = 0;
				sv->slot[k].open = 0;
			}
			sv->attached = 0;
		}
		__atomic_store_n(&sv->gen, ++generation, __ATOMIC_RELEASE);
		__atomic_store_n(&sv->used, 1, __ATOMIC_RELEASE);
		key = generation * SERVERS + i;
		break;
	}
	pthread_mutex_unlock(&servers_lock);
	return key;
}

/* The server is done: its key is refused from now on, its table goes to the next. */
void sk_direct_free(long long key) {
	pthread_mutex_lock(&servers_lock);
	struct server *sv = lookup(key);
	if (sv != NULL) {
		__atomic_store_n(&sv->used, 0, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&servers_lock);
}

/* Socket `sid` writes to descriptor `fd` (closed for direct writes until opened).
 * -1: the key is stale or the slot is another live socket's (the server prevents it). */
int sk_direct_attach(long long key, int sid, int fd) {
	struct server *sv = lookup(key);
	if (sv == NULL || sid <= 0) {
		return -1;
	}
	struct slot *s = &sv->slot[sid % SLOTS];
	slot_lock(s);
	if (s->attached) {
		slot_unlock(s);
		return -1;
	}
	drop_held(s);
	s->attached = 1;
	s->open = 0;
	s->sid = sid;
	s->fd = fd;
	s->failed = 0;
	s->written = 0;
	s->wtime = 0;
	slot_unlock(s);
	__atomic_add_fetch(&sv->attached, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Forget the socket (before its descriptor closes); what was held goes with it. */
void sk_direct_detach(long long key, int sid) {
	struct server *sv = lookup(key);
	struct slot *s = locked_in(sv, sid);
	if (s == NULL) {
		return;
	}
	s->attached = 0;
	s->open = 0;
	drop_held(s);
	slot_unlock(s);
	__atomic_sub_fetch(&sv->attached, 1, __ATOMIC_RELAXED);
}

/* Allow direct writes (the server's queues are empty): 1, or 0 if a rest is held or
 * a failure waits to be heard, which the server must take first. */
int sk_direct_open(long long key, int sid) {
	struct slot *s = locked(key, sid);
	if (s == NULL) {
		return 0;
	}
	int ok = s->held == NULL && s->failed == 0;
	if (ok) {
		s->open = 1;
	}
	slot_unlock(s);
	return ok;
}

/* No more direct writes (the socket leaves the writable states). */
void sk_direct_shut(long long key, int sid) {
	struct slot *s = locked(key, sid);
	if (s != NULL) {
		s->open = 0;
		slot_unlock(s);
	}
}

/* The server's own write, with its queues empty, its write lock held and the socket
 * writable: the bytes the kernel took, or -errno. The slot opens if all went (nothing
 * waits before the next write), and shuts if not. HELD_FIRST, with nothing written, if
 * a direct write has left a rest since the server last took one: it goes first. */
long long sk_direct_write(long long key, int sid, const char *data, size_t len) {
	struct slot *s = locked(key, sid);
	if (s == NULL) {
		return -EBADF;
	}
	if (s->held != NULL || s->failed) {
		slot_unlock(s);
		return HELD_FIRST;
	}
	ssize_t n = send(s->fd, data, len, WRITE_FLAGS);
	long long r;
	if (n < 0) {
		r = (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -errno;
	} else {
		r = n;
	}
	if (r > 0) {
		wrote(s, (size_t)r);
	}
	s->open = r == (long long)len;
	slot_unlock(s);
	return r;
}

/* Take what a direct write left held: its length (copied into `dst`, which has `cap`
 * bytes), 0 if nothing is held, -1 if `dst` is too small (sk_direct_held says how
 * big), or -errno of a failure the server must handle as a failed write. */
long long sk_direct_take(long long key, int sid, char *dst, size_t cap) {
	struct slot *s = locked(key, sid);
	if (s == NULL) {
		return 0;
	}
	long long r = 0;
	if (s->failed) {
		r = -s->failed;
		s->failed = 0;
	} else if (s->held != NULL) {
		if (s->held_len > cap) {
			r = -1;
		} else {
			memcpy(dst, s->held, s->held_len);
			r = (long long)s->held_len;
			drop_held(s);
		}
	}
	slot_unlock(s);
	return r;
}

/* The length of what is held. */
long long sk_direct_held(long long key, int sid) {
	struct slot *s = locked(key, sid);
	if (s == NULL) {
		return 0;
	}
	long long n = (long long)s->held_len;
	slot_unlock(s);
	return n;
}

/* Bytes written directly so far, and when last (into *wtime, the monotonic clock). */
unsigned long long sk_direct_written(long long key, int sid, double *wtime) {
	struct slot *s = locked(key, sid);
	if (s == NULL) {
		*wtime = 0;
		return 0;
	}
	unsigned long long n = s->written;
	*wtime = s->wtime;
	slot_unlock(s);
	return n;
}

/* --- the service's side: skynet/socketdriver.lua's write ------------------------- */

static int bad_argument(lua_State *L, int arg, const char *what) {
	return luaapi_fail(L, "directwrite: bad argument #%d (%s expected)", arg, what);
}

/* directwrite(key, send, id, data): write data to socket id directly if its slot is
 * open; otherwise (or for what the kernel did not take) call send(id, data) (the socket
 * server's own write, with "" when the rest is held here) and answer what it answers. */
static int ldirectwrite(lua_State *L) {
	int isnum;
	lua_Integer key = lua_tointegerx(L, 1, &isnum);
	if (!isnum) {
		return bad_argument(L, 1, "key");
	}
	lua_Integer sid = lua_tointegerx(L, 3, &isnum);
	if (!isnum) {
		return bad_argument(L, 3, "socket id");
	}
	size_t len;
	const char *data = lua_type(L, 4) == LUA_TSTRING ? lua_tolstring(L, 4, &len) : NULL;
	if (data == NULL) {
		return bad_argument(L, 4, "string");
	}
	struct server *sv = lookup(key);
	if (sv == NULL) {
		return luaapi_fail(L, "directwrite: no socket server with key %I", key);
	}
	int held = 0;
	struct slot *s = locked_in(sv, sid);
	if (s != NULL) {
		if (s->open) {
			ssize_t n = send(s->fd, data, len, WRITE_FLAGS);
			if (n == (ssize_t)len) {
				wrote(s, len);
				slot_unlock(s);
				lua_pushboolean(L, 1);
				return 1;
			}
			if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
				size_t done = n > 0 ? (size_t)n : 0;
				if (done > 0) {
					wrote(s, done);
					s->held = malloc(len - done);
					if (s->held == NULL) {
						s->failed = ENOMEM;
					} else {
						memcpy(s->held, data + done, len - done);
						s->held_len = len - done;
					}
					held = 1;
				}
			}
			/* An error other than "full" leaves the data to the server, whose own
			 * attempt meets the error and closes the socket's writing side. */
			s->open = 0;
		}
		slot_unlock(s);
	}
	lua_settop(L, 4);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, 3);
	if (held) {
		lua_pushlstring(L, "", 0);
	} else {
		lua_pushvalue(L, 4);
	}
	lua_callk(L, 2, 1, 0, NULL);
	return 1;
}

int luaopen_skykernel_directwrite(lua_State *L) {
	lua_pushcclosure(L, ldirectwrite, 0);
	return 1;
}
