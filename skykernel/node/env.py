"""The node's environment (skynet_env): getenv / setenv, seeded from the config."""

from __future__ import annotations


class Env:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def get(self, key: str) -> str | None:
        return self._values.get(key)

    def set(self, key: str, value: str) -> None:
        """skynet refuses to change a key that exists: the env is write-once."""
        if key in self._values:
            raise KeyError(f"Can't setenv exist key : {key}")
        self._values[key] = value

    def items(self) -> list[tuple[str, str]]:
        return sorted(self._values.items())
