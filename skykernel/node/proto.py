"""skynet's protocol ids (skynet.h)."""

PTYPE_TEXT = 0
PTYPE_RESPONSE = 1
PTYPE_MULTICAST = 2
PTYPE_CLIENT = 3
PTYPE_SYSTEM = 4
PTYPE_HARBOR = 5
PTYPE_SOCKET = 6
PTYPE_ERROR = 7
PTYPE_QUEUE = 8
PTYPE_DEBUG = 9
PTYPE_LUA = 10
PTYPE_SNAX = 11
PTYPE_TRACE = 12

BY_NAME = {
    "text": PTYPE_TEXT,
    "response": PTYPE_RESPONSE,
    "multicast": PTYPE_MULTICAST,
    "client": PTYPE_CLIENT,
    "system": PTYPE_SYSTEM,
    "harbor": PTYPE_HARBOR,
    "socket": PTYPE_SOCKET,
    "error": PTYPE_ERROR,
    "queue": PTYPE_QUEUE,
    "debug": PTYPE_DEBUG,
    "lua": PTYPE_LUA,
    "snax": PTYPE_SNAX,
    "trace": PTYPE_TRACE,
}


def ptype_id(ptype: int | str) -> int:
    if isinstance(ptype, int):
        return ptype
    try:
        return BY_NAME[ptype]
    except KeyError:
        raise ValueError(f"unknown protocol {ptype!r}; known: {', '.join(BY_NAME)}") from None
