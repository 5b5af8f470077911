"""The one masking function every sink uses: secret values become ``••••``.

A :class:`SecretMasker` collects the value of every resolved secret and replaces it
wherever it appears — in log lines, stored outputs, error messages, stack traces, the
terminal and the log dock — including inside a larger string. For values of at least
:data:`MIN_ENCODED_LENGTH` characters it also masks their common encodings (JSON-escaped,
Python-repr-escaped, URL-encoded (``quote`` and ``quote_plus``), hex in either case, and
base64, standard and URL-safe, at each of the three alignments a value can take inside a
longer byte string: see :func:`base64_cores`), and :meth:`SecretMasker.add_basic_auth`
masks the base64 of ``user:password``. One compiled alternation regex (longest first)
does the work, so masking a large text is one scan.

Mask first, then cut: a shortened text (an error body, a preview) is made with
:meth:`SecretMasker.mask_head`, which masks before it cuts, so a cut never leaves the
head of a secret behind. :func:`mask_known_secrets` applies every live masker of the
process (crash logs).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import traceback
import weakref
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "••••"
MIN_ENCODED_LENGTH = 4
#: Shortest base64 core masked at an offset (6 characters = 36 bits: no chance matches).
MIN_BASE64_CORE = 6
_URLSAFE = str.maketrans("+/", "-_")
#: Every masker holding secrets, for :func:`mask_known_secrets` (weak: runs come and go).
_LIVE: weakref.WeakSet[SecretMasker] = weakref.WeakSet()


def base64_cores(data: bytes) -> set[str]:
    """The base64 text ``data`` always encodes to, wherever it sits in a longer byte string.

    Inside a longer string ``data`` starts at offset 0, 1 or 2 of a 3-byte group, and the
    characters at its edges mix in the bytes around it. For each alignment this is the
    run of characters whose 6 bits all come from ``data`` (standard and URL-safe
    alphabets), when it is at least :data:`MIN_BASE64_CORE` characters long.
    """
    found: set[str] = set()
    size = len(data)
    for offset in (0, 1, 2):
        encoded = base64.b64encode(b"\0" * offset + data + b"\0\0\0").decode("ascii")
        first = -(-8 * offset // 6)  # the first character starting at or after the data
        end = 8 * (offset + size) // 6  # characters ending at or before the data's end
        core = encoded[first:end]
        if len(core) >= MIN_BASE64_CORE:
            found.add(core)
            found.add(core.translate(_URLSAFE))
    return found


def _variants(value: str) -> set[str]:
    """The value plus (when long enough) the encodings it is commonly echoed in."""
    found = {value}
    if len(value) < MIN_ENCODED_LENGTH:
        return found
    found.add(json.dumps(value)[1:-1])
    found.add(json.dumps(value, ensure_ascii=False)[1:-1])
    found.add(repr(value)[1:-1])
    found.add(quote(value, safe=""))
    found.add(quote_plus(value, safe=""))
    found.add(quote(value))
    found.add(quote_plus(value))
    encoded = value.encode("utf-8")
    found.add(base64.b64encode(encoded).decode("ascii"))
    found.add(base64.b64encode(encoded).decode("ascii").rstrip("="))
    found.add(base64.urlsafe_b64encode(encoded).decode("ascii").rstrip("="))
    found |= base64_cores(encoded)
    found.add(encoded.hex())
    found.add(encoded.hex().upper())
    return {variant for variant in found if variant}


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex matching any of ``words``, longest first, built as a prefix trie.

    Branches at a trie node start with distinct characters and a word ending inside
    another is an optional (greedy) tail, so the longest word wins at each position
    and the engine never retries a shared prefix. Chains of single children are
    emitted as one literal, so long secrets do not deepen the recursion.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        parts: list[str] = []
        for ch in sorted(k for k in node if k):
            literal = [ch]
            child = node[ch]
            while len(child) == 1 and "" not in child:
                (next_ch,) = child
                literal.append(next_ch)
                child = child[next_ch]
            parts.append(re.escape("".join(literal)) + build(child))
        if not parts:
            return ""
        body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return build(trie)


class SecretMasker:
    """Replaces every registered secret (and its encodings) with ``••••``.

    ``mask(value)`` handles strings, bytes, and (recursively, returning new objects)
    dicts, lists, tuples and sets; other values are returned unchanged. Thread-safe.
    """

    def __init__(self, secrets: Iterable[Any] = (), *, mask: str = MASK) -> None:
        self.replacement = mask
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        self._bytes_pattern: re.Pattern[bytes] | None = None
        self._longest = 0
        self._longest_bytes = 0
        for secret in secrets:
            self.add(secret)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:  # never show the secrets
        return f"SecretMasker({len(self._values)} patterns)"

    # -- registering ---------------------------------------------------------------

    def add(self, secret: Any) -> None:
        """Register one secret value (str, bytes, or a number/other value by its str)."""
        if secret is None or isinstance(secret, bool):
            return
        if isinstance(secret, bytes | bytearray):
            try:
                secret = bytes(secret).decode("utf-8")
            except UnicodeDecodeError:
                secret = bytes(secret).decode("latin-1")
        text = secret if isinstance(secret, str) else str(secret)
        if not text or text == self.replacement:
            return
        variants = _variants(text)
        if text.strip() and text.strip() != text:
            variants |= _variants(text.strip())
        with self._lock:
            if variants <= self._values:
                return
            self._values |= variants
            self._pattern = None
            self._bytes_pattern = None
        _LIVE.add(self)

    def add_many(self, secrets: Iterable[Any]) -> None:
        """Register several secret values."""
        for secret in secrets:
            self.add(secret)

    def add_basic_auth(self, username: str, password: str) -> None:
        """Register a password plus the ``Basic`` header value of ``username:password``."""
        self.add(password)
        if password:
            pair = f"{username}:{password}".encode()
            self.add(base64.b64encode(pair).decode("ascii"))

    def add_credential(self, fields: Mapping[str, Any], secret_names: Iterable[str]) -> None:
        """Register the values of a credential's secret fields."""
        for name in secret_names:
            value = fields.get(name)
            if isinstance(value, Mapping | list | tuple):
                for item in _leaves(value):
                    self.add(item)
            else:
                self.add(value)

    def merge(self, other: SecretMasker) -> None:
        """Register everything ``other`` masks."""
        with other._lock:
            values = set(other._values)
        with self._lock:
            self._values |= values
            self._pattern = None
            self._bytes_pattern = None
        if values:
            _LIVE.add(self)

    # -- masking ---------------------------------------------------------------------

    def _compiled(self) -> re.Pattern[str] | None:
        pattern = self._pattern
        if pattern is None and self._values:
            with self._lock:
                pattern = re.compile(_trie_pattern(self._values))
                self._longest = max(map(len, self._values))
                self._pattern = pattern
        return pattern

    def _compiled_bytes(self) -> re.Pattern[bytes] | None:
        pattern = self._bytes_pattern
        if pattern is None and self._values:
            with self._lock:
                encoded = {v.encode("utf-8") for v in self._values}
                ordered = sorted(encoded, key=lambda v: (-len(v), v))
                pattern = re.compile(b"|".join(re.escape(v) for v in ordered))
                self._longest_bytes = len(ordered[0])
                self._bytes_pattern = pattern
        return pattern

    def mask_text(self, text: str) -> str:
        """``text`` with every secret replaced."""
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(self.replacement, text)

    def mask_bytes(self, data: bytes) -> bytes:
        """``data`` with every secret's UTF-8 bytes replaced."""
        pattern = self._compiled_bytes()
        if pattern is None or not data:
            return data
        return pattern.sub(self.replacement.encode("utf-8"), data)

    def mask_head(self, text: str, limit: int) -> tuple[str, bool]:
        """(the first ``limit`` characters of ``text`` masked, whether it was longer).

        The same as masking all of ``text`` and then cutting, but only the head is
        scanned: a cut never leaves part of a secret behind, and a 50 MB body costs
        what its first ``limit`` characters cost.
        """
        pattern = self._compiled()
        if pattern is None:
            return text[:limit], len(text) > limit
        masked, more = _head(pattern, self.replacement, text, limit, self._longest)
        return masked, more

    @property
    def longest_bytes(self) -> int:
        """The UTF-8 length of the longest secret (0 with none): how far past a cut a
        reader must look so that masking before the cut sees a whole secret."""
        self._compiled_bytes()
        return self._longest_bytes

    def mask_bytes_head(self, data: bytes, limit: int) -> bytes:
        """The first ``limit`` bytes of ``data`` with every secret replaced (mask, then cut)."""
        pattern = self._compiled_bytes()
        if pattern is None:
            return data[:limit]
        replacement = self.replacement.encode("utf-8")
        return _head(pattern, replacement, data, limit, self._longest_bytes)[0]

    def mask(self, value: Any) -> Any:
        """A masked copy of ``value`` (str, bytes, dict, list, tuple, set); others unchanged."""
        if not self._values:
            return value
        return self._mask(value)

    __call__ = mask

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, Mapping):
            return {self._mask(k): self._mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._mask(item) for item in value]
        if isinstance(value, tuple):
            masked = [self._mask(item) for item in value]
            return type(value)(*masked) if hasattr(value, "_fields") else tuple(masked)
        if isinstance(value, set | frozenset):
            return type(value)(self._mask(item) for item in value)
        if isinstance(value, bytes | bytearray):
            return type(value)(self.mask_bytes(bytes(value)))
        return value

    def mask_exception(self, exc: BaseException) -> str:
        """The formatted traceback of ``exc``, masked."""
        return self.mask_text("".join(traceback.format_exception(exc)))

    def contains_secret(self, value: Any) -> bool:
        """Whether any registered secret appears in ``value`` (after str() for non-text)."""
        pattern = self._compiled()
        if pattern is None:
            return False
        if isinstance(value, str):
            return pattern.search(value) is not None
        if isinstance(value, bytes | bytearray):
            bytes_pattern = self._compiled_bytes()
            return bytes_pattern is not None and bytes_pattern.search(bytes(value)) is not None
        if isinstance(value, Mapping):
            return any(self.contains_secret(k) or self.contains_secret(v) for k, v in value.items())
        if isinstance(value, list | tuple | set | frozenset):
            return any(self.contains_secret(item) for item in value)
        return pattern.search(str(value)) is not None


def _head(pattern: Any, replacement: Any, text: Any, limit: int, longest: int) -> tuple[Any, bool]:
    """Mask ``text`` (str or bytes) far enough to know its first ``limit`` items, then cut.

    A match starting at or before ``end - longest`` is whole inside ``text[:end]``, so
    the masked text up to there is final; the window doubles until it covers ``limit``.
    """
    end = limit + longest
    while True:
        if end >= len(text):
            masked = pattern.sub(replacement, text)
            return masked[:limit], len(masked) > limit
        safe = end - longest
        parts = []
        size = 0
        pos = 0
        for match in pattern.finditer(text, 0, end):
            start = match.start()
            if start > safe:
                break
            parts.append(text[pos:start])
            parts.append(replacement)
            size += start - pos + len(replacement)
            pos = match.end()
        if pos < safe:
            parts.append(text[pos:safe])
            size += safe - pos
        if size >= limit:
            return text[:0].join(parts)[:limit], True
        end *= 2


def mask_known_secrets(text: str) -> str:
    """``text`` with the secrets of every live masker of this process replaced."""
    maskers: list[SecretMasker] = []
    for _ in range(5):  # another thread adding a masker mid-copy: copy again
        try:
            maskers = list(_LIVE)
            break
        except RuntimeError:
            continue
    for masker in maskers:
        text = masker.mask_text(text)
    return text


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def mask(value: Any, masker: SecretMasker | None) -> Any:
    """``masker.mask(value)``, or ``value`` when there is no masker (convenience for sinks)."""
    return masker.mask(value) if masker is not None else value
