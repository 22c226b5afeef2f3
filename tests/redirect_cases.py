"""Hostile ``next=`` values (attack review finding 3) and how a browser reads a ``Location``."""

from urllib.parse import urljoin, urlsplit

HOSTILE_TARGETS = [
    "//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5C/evil.example",
    "/%09/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "data:text/html,x",
    "evil.example",
    "///evil.example",
    "/\x00/evil.example",
    "/\u3000/evil.example",
    "/\uff0f/evil.example",
]

LOCAL_TARGETS = ["/", "/cases?q=a%20b", "/cases/abc/records/def", "/report?lang=ca#x"]


def browser_host(location: str, base: str) -> str:
    """The host a browser lands on: tabs and line breaks dropped, ``\\`` read as ``/``."""
    cleaned = "".join(c for c in location if c not in "\t\n\r").strip("\x00 ")
    cleaned = cleaned.replace("\\", "/")
    return urlsplit(urljoin(base, cleaned)).netloc
