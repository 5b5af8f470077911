"""The Crypto node: hash, HMAC, random bytes / UUID, base64 and hex encode / decode."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin.data import set_path
from glyphic_desktop.nodes.builtin.items import MISSING, get_path
from glyphic_desktop.nodes.registry import register_node

Algorithm = Literal["md5", "sha1", "sha256", "sha384", "sha512", "sha3_256", "blake2b"]
Operation = Literal[
    "hash",
    "hmac",
    "random_bytes",
    "uuid",
    "base64_encode",
    "base64_decode",
    "hex_encode",
    "hex_decode",
]
_NEEDS_VALUE = {"hash", "hmac", "base64_encode", "base64_decode", "hex_encode", "hex_decode"}


class CryptoFields(BaseModel):
    """Fields of the Crypto node."""

    model_config = ConfigDict(extra="forbid")

    operation: Operation = Field(default="hash", description="What to compute.")
    field: str = Field(default="", description="The item's field to read (dots for nesting).")
    value: Any = Field(default=None, description="The value when no field is named.")
    algorithm: Algorithm = Field(default="sha256", description="Hash algorithm (hash, hmac).")
    secret: str = Field(default="", description="The HMAC key (use an expression for a secret).")
    encoding: Literal["hex", "base64"] = Field(
        default="hex", description="How digests and random bytes are written."
    )
    length: int = Field(default=32, ge=1, le=4096, description="Random bytes: how many.")
    output_field: str = Field(default="result", description="Where the result goes on the item.")


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _encode(data: bytes, encoding: str) -> str:
    return data.hex() if encoding == "hex" else base64.b64encode(data).decode("ascii")


def compute(fields: CryptoFields, value: Any) -> str:
    """The result of ``fields.operation`` on ``value`` (objects and lists hash as compact
    sorted JSON; decoded bytes that are not UTF-8 come out as base64)."""
    op = fields.operation
    if op == "uuid":
        return str(uuid.uuid4())
    if op == "random_bytes":
        return _encode(secrets.token_bytes(fields.length), fields.encoding)
    if op == "hash":
        return _encode(hashlib.new(fields.algorithm, _bytes(value)).digest(), fields.encoding)
    if op == "hmac":
        if not fields.secret:
            raise NodeError("hmac needs a secret", field="secret")
        digest = hmac.new(fields.secret.encode(), _bytes(value), fields.algorithm).digest()
        return _encode(digest, fields.encoding)
    if op == "base64_encode":
        return base64.b64encode(_bytes(value)).decode("ascii")
    if op == "hex_encode":
        return _bytes(value).hex()
    try:
        text = str(value).strip()
        data = (
            base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
            if op == "base64_decode"
            else bytes.fromhex(text)
        )
    except (binascii.Error, ValueError):
        kind = "base64" if op == "base64_decode" else "hex"
        raise NodeError(f"{str(value)[:60]!r} is not valid {kind}", field="value") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


@register_node
class CryptoNode(NodeType):
    """Hashes, signs (HMAC), encodes or decodes a value of each item, or makes random
    bytes / a UUID. Each object item gets the result under ``output_field``; a list does
    this per item; with no input the output is ``{output_field: result}``."""

    key: ClassVar[str] = "crypto"
    title: ClassVar[str] = "Crypto"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "key-round"
    summary_field: ClassVar[str] = "operation"
    description: ClassVar[str] = "Hash, HMAC, random bytes or UUID, base64 and hex."
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "Items"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "Items"),)
    Fields: ClassVar[type[BaseModel]] = CryptoFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Compute per item."""
        fields: CryptoFields = ctx.fields  # type: ignore[assignment]
        value = ctx.input
        if isinstance(value, list):
            return {
                "output": [self._one(fields, item, f"item {n}") for n, item in enumerate(value)]
            }
        return {"output": self._one(fields, value, "input")}

    @staticmethod
    def _one(fields: CryptoFields, item: Any, where: str) -> dict[str, Any]:
        raw = get_path(item, fields.field) if fields.field else fields.value
        if fields.operation in _NEEDS_VALUE and (raw is MISSING or raw is None):
            what = f"field {fields.field!r}" if fields.field else "value"
            raise NodeError(f"{where}: {what} is empty", field="field" if fields.field else "value")
        base = copy.deepcopy(dict(item)) if isinstance(item, Mapping) else {}
        set_path(base, fields.output_field or "result", compute(fields, raw))
        return base
