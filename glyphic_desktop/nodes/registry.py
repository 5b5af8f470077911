"""The registry of node types: validation at registration, lookup, the palette's listing.

``@register_node`` adds a :class:`~glyphic_desktop.nodes.base.NodeType` subclass to the
process-wide catalog (or to ``registry=...``), checking its declaration on the spot so a
bad one fails at import with a message naming the class. :func:`default_registry` loads
the built-in catalog (``glyphic_desktop.nodes.builtin``) and third-party packages that
declare an entry point in the group ``glyphic.nodes``::

    [project.entry-points."glyphic.nodes"]
    acme = "acme_glyphic.nodes"            # a module: importing it registers its types
    acme_more = "acme_glyphic:register"    # a callable: called with the registry

A callable may also return an iterable of node-type classes, which are registered. A
plugin that fails to load is reported in :attr:`NodeRegistry.load_errors` (and logged),
never fatal.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import re
import types
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from pydantic import BaseModel

from glyphic_desktop.errors import GlyphicError
from glyphic_desktop.nodes.base import ERROR_PORT, PORT_TYPES, NodeType, PortSpec

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "glyphic.nodes"
BUILTIN_PACKAGE = "glyphic_desktop.nodes.builtin"
KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,79}$")
COLOR_PATTERN = re.compile(r"^#[0-9A-Fa-f]{6}$")
CATEGORY_ORDER = ("Triggers", "Flow", "Data", "Network", "Integrations")

T = TypeVar("T", bound=type[NodeType])


class NodeDeclarationError(GlyphicError):
    """A node type whose declaration is invalid, or whose key is already taken."""


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_ports(cls: type, attr: str, problems: list[str]) -> None:
    ports = getattr(cls, attr, None)
    if not isinstance(ports, tuple | list):
        problems.append(f"{attr} must be a tuple of PortSpec")
        return
    seen: set[str] = set()
    for port in ports:
        if not isinstance(port, PortSpec):
            problems.append(f"{attr} holds {port!r}, not a PortSpec")
            continue
        if not port.name or not isinstance(port.name, str):
            problems.append(f"{attr} holds a port without a name")
            continue
        if port.name in seen:
            problems.append(f"{attr} declares port {port.name!r} twice")
        seen.add(port.name)
        if port.type not in PORT_TYPES:
            allowed = ", ".join(sorted(PORT_TYPES))
            problems.append(
                f"{attr} port {port.name!r} has type {port.type!r} (allowed: {allowed})"
            )


def validate_declaration(cls: Any) -> None:
    """Raise :class:`NodeDeclarationError` listing everything wrong with ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, NodeType)):
        raise NodeDeclarationError(f"{cls!r} is not a NodeType subclass")
    problems: list[str] = []
    key = getattr(cls, "key", None)
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        problems.append(
            f"key {key!r} is not valid (a letter, then letters, digits, '_', '.', ':' or '-')"
        )
    for attr in ("title", "category"):
        value = getattr(cls, attr, None)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{attr} must be a non-empty string")
    for attr in ("icon", "description", "summary_field"):
        if not isinstance(getattr(cls, attr, ""), str):
            problems.append(f"{attr} must be a string")
    color = getattr(cls, "color", "")
    if not isinstance(color, str) or (color and not COLOR_PATTERN.match(color)):
        problems.append(f"color must be empty or '#rrggbb', not {color!r}")
    version = getattr(cls, "version", None)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append(f"version must be an integer >= 1, not {version!r}")
    _check_ports(cls, "inputs", problems)
    _check_ports(cls, "outputs", problems)
    fields_model = getattr(cls, "Fields", None)
    if not (isinstance(fields_model, type) and issubclass(fields_model, BaseModel)):
        problems.append(f"Fields must be a pydantic BaseModel subclass, not {fields_model!r}")
    credential = getattr(cls, "credential_type", None)
    if credential is not None and (not isinstance(credential, str) or not credential):
        problems.append(f"credential_type must be None or a non-empty string, not {credential!r}")
    run = getattr(cls, "run", None)
    if run is NodeType.run:
        problems.append("run is not implemented")
    elif not inspect.iscoroutinefunction(run):
        problems.append("run must be an 'async def' method")
    if not isinstance(getattr(cls, "runs_code", False), bool):
        problems.append(f"runs_code must be True or False, not {cls.runs_code!r}")
    code_fields = getattr(cls, "code_fields", ())
    if not isinstance(code_fields, tuple | list) or not all(
        isinstance(name, str) for name in code_fields
    ):
        problems.append(f"code_fields must be a tuple of field names, not {code_fields!r}")
    body_ports = getattr(cls, "body_ports", ())
    output_names = {p.name for p in getattr(cls, "outputs", ()) if isinstance(p, PortSpec)}
    if not isinstance(body_ports, tuple | list):
        problems.append("body_ports must be a tuple of output port names")
    else:
        for name in body_ports:
            if name not in output_names:
                problems.append(f"body_ports names {name!r}, which is not a declared output")
            if name == ERROR_PORT:
                problems.append("the error output cannot be a body port")
    unused_with = getattr(cls, "fields_unused_with", ())
    input_names = {p.name for p in getattr(cls, "inputs", ()) if isinstance(p, PortSpec)}
    if not isinstance(unused_with, tuple | list):
        problems.append("fields_unused_with must be a tuple of input port names")
    else:
        for name in unused_with:
            if name not in input_names:
                problems.append(f"fields_unused_with names {name!r}, which is not a declared input")
    if problems:
        raise NodeDeclarationError(
            f"node type {_where(cls)} is declared wrongly: " + "; ".join(problems)
        )


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _subsequence(needle: str, haystack: str) -> bool:
    it = iter(haystack)
    return all(ch in it for ch in needle)


class NodeRegistry:
    """Node types by key (and version), for the engine, the palette and preflight."""

    def __init__(self) -> None:
        self._types: dict[str, dict[int, type[NodeType]]] = {}
        self._latest: dict[str, type[NodeType]] = {}
        self._instances: dict[type[NodeType], NodeType] = {}
        self.load_errors: list[str] = []

    # -- registration ---------------------------------------------------------------

    def register(self, cls: T) -> T:
        """Validate and add ``cls``; a duplicate (key, version) from another class fails."""
        validate_declaration(cls)
        versions = self._types.setdefault(cls.key, {})
        existing = versions.get(cls.version)
        if existing is not None:
            if existing is cls or _where(existing) == _where(cls):
                # The same class seen again (a module imported twice): keep the newest object.
                versions[cls.version] = cls
                self._refresh_latest(cls.key)
                return cls
            raise NodeDeclarationError(
                f"node type key {cls.key!r} (version {cls.version}) is already registered "
                f"by {_where(existing)}; {_where(cls)} cannot take it"
            )
        versions[cls.version] = cls
        self._refresh_latest(cls.key)
        return cls

    def _refresh_latest(self, key: str) -> None:
        versions = self._types[key]
        self._latest[key] = versions[max(versions)]

    def unregister(self, key: str) -> None:
        """Remove every version of ``key`` (tests and plugin reloads)."""
        for cls in self._types.pop(key, {}).values():
            self._instances.pop(cls, None)
        self._latest.pop(key, None)

    # -- lookup -----------------------------------------------------------------------

    def get(self, key: str, version: int | None = None) -> type[NodeType] | None:
        """The type registered as ``key`` (its newest version unless ``version`` is given)."""
        if version is None:
            return self._latest.get(key)
        return self._types.get(key, {}).get(version)

    def versions(self, key: str) -> list[int]:
        """The registered versions of ``key``, oldest first."""
        return sorted(self._types.get(key, {}))

    def instance(self, cls: type[NodeType]) -> NodeType:
        """The shared instance of ``cls`` whose ``run`` the engine calls."""
        obj = self._instances.get(cls)
        if obj is None:
            obj = self._instances[cls] = cls()
        return obj

    def __contains__(self, key: object) -> bool:
        return key in self._latest

    def __len__(self) -> int:
        return len(self._latest)

    def __iter__(self):
        return iter(self.all())

    def all(self) -> list[type[NodeType]]:
        """The newest version of every type, sorted by category then title."""
        return sorted(self._latest.values(), key=self._sort_key)

    @staticmethod
    def _category_rank(category: str) -> tuple[int, str]:
        try:
            return (CATEGORY_ORDER.index(category), "")
        except ValueError:
            return (len(CATEGORY_ORDER), category.lower())

    def _sort_key(self, cls: type[NodeType]) -> tuple[Any, ...]:
        return (self._category_rank(cls.category), cls.title.lower(), cls.key)

    def code_running_keys(self) -> frozenset[str]:
        """The keys of the types (any registered version) that declare ``runs_code``."""
        return frozenset(
            key
            for key, versions in self._types.items()
            if any(cls.runs_code for cls in versions.values())
        )

    def by_category(self) -> dict[str, list[type[NodeType]]]:
        """Newest versions grouped by category (Triggers, Flow, Data, Network,
        Integrations, then the others alphabetically), each sorted by title."""
        grouped: dict[str, list[type[NodeType]]] = {}
        for cls in self.all():
            grouped.setdefault(cls.category, []).append(cls)
        return grouped

    def search(self, text: str, *, limit: int | None = None) -> list[type[NodeType]]:
        """Types matching ``text`` best first (for the palette and the node search popup).

        Every word of the query must match the key, title, category or description,
        as a substring, or as a subsequence of the title's or key's letters
        (``"htrq"`` finds "HTTP request"). An empty query lists everything.
        """
        words = _normalise(text).split()
        if not words:
            result = self.all()
            return result[:limit] if limit else result
        scored: list[tuple[float, tuple[Any, ...], type[NodeType]]] = []
        for cls in self._latest.values():
            score = self._score(cls, words)
            if score > 0:
                scored.append((-score, self._sort_key(cls), cls))
        scored.sort(key=lambda item: (item[0], item[1]))
        result = [cls for _, _, cls in scored]
        return result[:limit] if limit else result

    @staticmethod
    def _score(cls: type[NodeType], words: list[str]) -> float:
        key = _normalise(cls.key)
        title = _normalise(cls.title)
        category = _normalise(cls.category)
        description = _normalise(cls.description)
        total = 0.0
        for word in words:
            if word in (key, title):
                best = 100.0
            elif title.startswith(word) or key.startswith(word):
                best = 60.0
            elif any(part.startswith(word) for part in title.split()):
                best = 45.0
            elif word in title or word in key:
                best = 30.0
            elif word in category:
                best = 15.0
            elif word in description:
                best = 8.0
            elif _subsequence(word, title.replace(" ", "")) or _subsequence(word, key):
                best = 4.0
            else:
                return 0.0
            total += best
        return total

    # -- loading ----------------------------------------------------------------------

    def load_builtins(self, package: str = BUILTIN_PACKAGE) -> None:
        """Import every module of the built-in catalog (missing or broken ones are reported)."""
        try:
            pkg = importlib.import_module(package)
        except ModuleNotFoundError as exc:
            if exc.name and package.startswith(exc.name):
                log.debug("no built-in node package %s", package)
                return
            self._report(f"built-in nodes ({package}): {exc}")
            return
        except Exception as exc:
            self._report(f"built-in nodes ({package}): {exc.__class__.__name__}: {exc}")
            return
        self._absorb_module(pkg)
        for info in pkgutil.iter_modules(getattr(pkg, "__path__", []), prefix=package + "."):
            try:
                module = importlib.import_module(info.name)
            except Exception as exc:
                self._report(f"built-in nodes ({info.name}): {exc.__class__.__name__}: {exc}")
                continue
            self._absorb_module(module)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load third-party node packages declared under the entry point ``group``."""
        from importlib.metadata import entry_points

        try:
            points = list(entry_points(group=group))
        except Exception as exc:  # a broken distribution's metadata
            self._report(f"entry points {group!r}: {exc}")
            return
        for point in points:
            self.load_plugin(point.name, point.load)

    def load_plugin(self, name: str, loader: Callable[[], Any]) -> bool:
        """Load one plugin (``loader`` returns a module or a callable); False when it failed."""
        try:
            target = loader()
            if isinstance(target, types.ModuleType):
                self._absorb_module(target)
            elif callable(target):
                returned = target(self)
                if returned is not None:
                    for cls in returned:
                        self.register(cls)
            else:
                raise TypeError(f"it is neither a module nor a callable: {target!r}")
        except Exception as exc:
            self._report(f"node plugin {name!r} failed to load: {exc.__class__.__name__}: {exc}")
            return False
        return True

    def _absorb_module(self, module: types.ModuleType) -> None:
        """Register the types a module declared with ``@register_node`` (into the catalog)."""
        if self is _CATALOG:
            return
        for cls in list(_CATALOG._latest.values()):
            if cls.__module__ == module.__name__:
                for version_cls in _CATALOG._types[cls.key].values():
                    self.register(version_cls)

    def _report(self, message: str) -> None:
        log.warning("%s", message)
        self.load_errors.append(message)

    def merge(self, other: NodeRegistry) -> None:
        """Register every type (every version) of ``other`` here."""
        for versions in other._types.values():
            for cls in versions.values():
                self.register(cls)


# The process-wide catalog that @register_node fills at import time.
_CATALOG = NodeRegistry()
_DEFAULT: NodeRegistry | None = None


@overload
def register_node(cls: T) -> T: ...


@overload
def register_node(*, registry: NodeRegistry | None = None) -> Callable[[T], T]: ...


def register_node(cls: Any = None, *, registry: NodeRegistry | None = None) -> Any:
    """Class decorator: validate and register a node type (in the catalog by default)."""

    def apply(target: T) -> T:
        return (registry if registry is not None else _CATALOG).register(target)

    if cls is None:
        return apply
    return apply(cls)


def catalog() -> NodeRegistry:
    """The process-wide registry filled by ``@register_node`` (without loading anything)."""
    return _CATALOG


def default_registry(*, reload: bool = False) -> NodeRegistry:
    """The catalog with the built-in nodes and the ``glyphic.nodes`` plugins loaded (cached)."""
    global _DEFAULT
    if _DEFAULT is None or reload:
        _CATALOG.load_errors = []
        _CATALOG.load_builtins()
        _CATALOG.load_entry_points()
        _DEFAULT = _CATALOG
    return _DEFAULT


def register_all(registry: NodeRegistry, classes: Iterable[type[NodeType]]) -> None:
    """Register several classes in ``registry``."""
    for cls in classes:
        registry.register(cls)
