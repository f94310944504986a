"""Bounds-checked reads over a dissector's bytes, shared by the binary protocol dissectors.

Every length read from the wire is checked against what is left, and a violation raises
the dissector's own error class, which the meter counts per dissector.
"""

from __future__ import annotations


class Reader:
    __slots__ = ("buf", "error", "pos")

    def __init__(self, buf: bytes, error: type[ValueError]) -> None:
        self.buf = buf
        self.pos = 0
        self.error = error

    def left(self) -> int:
        return len(self.buf) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.left():
            raise self.error(f"length {n} runs past the end ({self.left()} left)")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def skip(self, n: int) -> None:
        self.take(n)

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        """A 16-bit-length-prefixed vector (TLS vectors, MQTT binary data)."""
        return self.take(self.u16())

    def string(self) -> str:
        """A 16-bit-length-prefixed UTF-8 string (MQTT)."""
        return self.vec16().decode("utf-8", "replace")

    def rest(self) -> bytes:
        return self.take(self.left())
