"""The framing inside an envelope's plaintext: several named parts in one stream.

    part start  0x01  kind u8 (1 text, 2 file, 3 bytes)  name length u16 BE  name (UTF-8)
    data        0x02  length u32 BE (1 … 1 MiB)  bytes
    part end    0x03
    end         0x00                      then zero bytes up to the padded size

A file's size need not be known before it is written (the server encrypts an
upload as it streams in), so a part is any number of data frames. Parsing is
strict: anything out of place is ``MalformedError``. Pure Python, no crypto.
"""

import enum
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from whistle.crypto.errors import MalformedError

FRAME_END = 0x00
FRAME_START = 0x01
FRAME_DATA = 0x02
FRAME_PART_END = 0x03
MAX_NAME_BYTES = 1024
MAX_DATA_FRAME = 1 << 20
MAX_PARTS = 1000


class PartKind(enum.IntEnum):
    TEXT = 1
    FILE = 2
    BYTES = 3


@dataclass(frozen=True)
class PartStart:
    kind: PartKind
    name: str


@dataclass(frozen=True)
class PartData:
    data: bytes


@dataclass(frozen=True)
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


def encode_part_start(kind: PartKind, name: str) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) > MAX_NAME_BYTES:
        raise ValueError(f"a part name is at most {MAX_NAME_BYTES} bytes")
    if "\x00" in name:
        raise ValueError("a part name has no NUL character")
    return struct.pack(">BBH", FRAME_START, PartKind(kind), len(raw)) + raw


def encode_data(data: bytes) -> Iterator[bytes | memoryview]:
    view = memoryview(data)
    for offset in range(0, len(view), MAX_DATA_FRAME):
        piece = view[offset : offset + MAX_DATA_FRAME]
        yield struct.pack(">BI", FRAME_DATA, len(piece))
        yield piece


PART_END = bytes([FRAME_PART_END])
END = bytes([FRAME_END])


def _is_zero(data: bytes | bytearray) -> bool:
    return data.count(0) == len(data)


class FrameParser:
    """Incremental parser: feed plaintext as it is decrypted, collect events.

    ``events()`` after each ``feed`` returns what became complete; data frames
    may be delivered in several pieces. ``finish()`` checks the stream ended
    properly (end marker seen, only zero padding after it).
    """

    def __init__(self, max_parts: int = MAX_PARTS) -> None:
        self._max_parts = max_parts
        self._buffer = bytearray()
        self._in_part = False
        self._ended = False
        self._data_left = 0
        self._parts = 0
        self._events: list[Event] = []

    def feed(self, data: bytes) -> list[Event]:
        if self._ended:
            if not _is_zero(data):
                raise MalformedError("non-zero bytes after the end of the parts")
            return []
        events: list[Event] = []
        if self._data_left and not self._buffer:
            # Inside a data frame with nothing pending: hand the bytes on without copying.
            take = min(self._data_left, len(data))
            events.append(PartData(data if take == len(data) else data[:take]))
            self._data_left -= take
            data = data[take:]
        if data:
            self._buffer += data
            self._parse()
            events += self._events
            self._events = []
        return events

    def finish(self) -> None:
        if not self._ended:
            raise MalformedError("the parts end without an end marker")

    def _parse(self) -> None:
        buf = self._buffer
        pos = 0
        while pos < len(buf):
            if self._data_left:
                take = min(self._data_left, len(buf) - pos)
                self._events.append(PartData(bytes(buf[pos : pos + take])))
                self._data_left -= take
                pos += take
                continue
            if self._ended:
                if not _is_zero(buf[pos:]):
                    raise MalformedError("non-zero bytes after the end of the parts")
                pos = len(buf)
                break
            tag = buf[pos]
            if tag == FRAME_END:
                if self._in_part:
                    raise MalformedError("the parts end inside a part")
                self._ended = True
                pos += 1
            elif tag == FRAME_START:
                if len(buf) - pos < 4:
                    break
                _, kind, name_len = struct.unpack_from(">BBH", buf, pos)
                if self._in_part:
                    raise MalformedError("a part starts inside another part")
                if kind not in PartKind.__members__.values():
                    raise MalformedError(f"unknown part kind {kind}")
                if name_len > MAX_NAME_BYTES:
                    raise MalformedError("a part name is too long")
                if len(buf) - pos < 4 + name_len:
                    break
                raw_name = bytes(buf[pos + 4 : pos + 4 + name_len])
                try:
                    name = raw_name.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise MalformedError("a part name is not UTF-8") from exc
                if "\x00" in name:
                    raise MalformedError("a part name contains NUL")
                self._parts += 1
                if self._parts > self._max_parts:
                    raise MalformedError("too many parts")
                self._in_part = True
                self._events.append(PartStart(PartKind(kind), name))
                pos += 4 + name_len
            elif tag == FRAME_DATA:
                if len(buf) - pos < 5:
                    break
                if not self._in_part:
                    raise MalformedError("data outside a part")
                (length,) = struct.unpack_from(">I", buf, pos + 1)
                if not 1 <= length <= MAX_DATA_FRAME:
                    raise MalformedError("a data frame has an impossible length")
                self._data_left = length
                pos += 5
            elif tag == FRAME_PART_END:
                if not self._in_part:
                    raise MalformedError("a part ends that never started")
                self._in_part = False
                self._events.append(PartEnd())
                pos += 1
            else:
                raise MalformedError(f"unknown frame type {tag}")
        del buf[:pos]
