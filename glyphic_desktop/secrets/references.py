"""Credential bindings in workflow documents: strip on export, re-bind on import, resolve to run.

A node's ``data.credential`` is, in a stored workflow::

    {"integrationId": "<uuid>", "integration": {"type": "smtp", "name": "Work mail"}}

and in an exported file only the reference ``{"integration": {"type": ..., "name": ...}}``
(no id, no secret, nothing else). Import binds each reference to the user's credential
of that type and name, or leaves it unresolved and reports every unresolved one in one
message; preflight then refuses to run until it is bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glyphic_desktop.document.model import Node, WorkflowDocument
from glyphic_desktop.errors import GlyphicError, NotFoundError

if TYPE_CHECKING:
    from glyphic_desktop.secrets.masking import SecretMasker
    from glyphic_desktop.store.repositories.integrations import (
        DecryptedIntegration,
        IntegrationInfo,
        IntegrationRepository,
    )


class UnresolvedCredentialError(GlyphicError):
    """A node's credential cannot be used (unbound, missing, inactive, wrong type)."""

    exit_code = 2


def credential_reference(binding: Mapping[str, Any] | None) -> dict[str, str] | None:
    """``{"type", "name"}`` from a binding's ``integration`` part, or None."""
    if not isinstance(binding, Mapping):
        return None
    ref = binding.get("integration")
    if not isinstance(ref, Mapping):
        return None
    kind, name = ref.get("type"), ref.get("name")
    if not isinstance(name, str) or not name:
        return None
    return {"type": str(kind) if kind else "", "name": name}


def make_binding(info: IntegrationInfo) -> dict[str, Any]:
    """The stored binding for a credential: its id plus its type/name reference."""
    return {"integrationId": info.id, "integration": info.reference()}


def _describe_ref(ref: Mapping[str, Any] | None) -> str:
    if not ref:
        return "a credential without a type and name"
    kind = ref.get("type") or "?"
    return f"the {kind} credential {ref.get('name')!r}"


def strip_credentials(
    document: WorkflowDocument, repo: IntegrationRepository | None = None
) -> WorkflowDocument:
    """A copy of ``document`` whose credential bindings are bare type/name references.

    Ids and anything else in ``data.credential`` (stray secrets included) are dropped.
    A binding with only an id is named through ``repo`` when given, else dropped.
    """
    copy = document.model_copy(deep=True)
    for node in copy.nodes:
        binding = node.data.credential
        if binding is None:
            continue
        ref = credential_reference(binding)
        if ref is None and repo is not None and isinstance(binding, Mapping):
            integration_id = binding.get("integrationId")
            if integration_id:
                try:
                    ref = repo.get(str(integration_id)).reference()
                except NotFoundError:
                    ref = None
        node.data.credential = {"integration": ref} if ref else None
    return copy


@dataclass
class BindResult:
    """What :func:`bind_credentials` did: the bound document and every unresolved reference."""

    document: WorkflowDocument
    unresolved: list[str] = field(default_factory=list)
    bound: int = 0

    @property
    def ok(self) -> bool:
        """Whether every reference was bound."""
        return not self.unresolved

    def message(self) -> str | None:
        """One line listing every unresolved reference, or None."""
        if not self.unresolved:
            return None
        count = len(self.unresolved)
        noun = "credential is" if count == 1 else "credentials are"
        return (
            f"{count} {noun} not bound: {'; '.join(self.unresolved)} "
            "(add them with 'glyphic credentials add TYPE NAME', then bind them in the editor)"
        )


def bind_credentials(document: WorkflowDocument, repo: IntegrationRepository) -> BindResult:
    """A copy of ``document`` with each reference bound to the user's credential of that
    type and name; references without a match are left as they are and listed."""
    copy = document.model_copy(deep=True)
    result = BindResult(copy)
    for node in copy.nodes:
        binding = node.data.credential
        if binding is None:
            continue
        ref = credential_reference(binding)
        info = None
        if ref is not None and ref["type"]:
            info = repo.get_by_type_and_name(ref["type"], ref["name"])
        elif isinstance(binding, Mapping) and binding.get("integrationId"):
            try:  # a bare id (an older file): usable only if it is this user's credential
                info = repo.get(str(binding["integrationId"]))
            except NotFoundError:
                info = None
        if info is None:
            node.data.credential = {"integration": ref} if ref else None
            result.unresolved.append(f"{node.describe()} needs {_describe_ref(ref)}")
            continue
        node.data.credential = make_binding(info)
        result.bound += 1
    return result


def _lookup(binding: Mapping[str, Any], repo: IntegrationRepository) -> IntegrationInfo | None:
    integration_id = binding.get("integrationId")
    ref = credential_reference(binding)
    if integration_id:
        try:
            info = repo.get(str(integration_id))
        except NotFoundError:
            info = None
        if info is not None and (ref is None or not ref["type"] or ref["type"] == info.type):
            return info
    if ref is not None and ref["type"]:
        return repo.get_by_type_and_name(ref["type"], ref["name"])
    return None


def binding_problem(
    binding: Mapping[str, Any] | None,
    repo: IntegrationRepository,
    accepted_types: tuple[str, ...] | str | None = None,
) -> str | None:
    """Why ``binding`` cannot be used (None when it can). ``accepted_types`` limits the type."""
    if isinstance(accepted_types, str):
        accepted_types = (accepted_types,)
    if not isinstance(binding, Mapping) or not binding:
        return "no credential is chosen"
    ref = credential_reference(binding)
    info = _lookup(binding, repo)
    if info is None:
        if ref is not None:
            return f"{_describe_ref(ref)} does not exist"
        return f"credential {binding.get('integrationId')!s} does not exist"
    if accepted_types and info.type not in accepted_types:
        wanted = " or ".join(accepted_types)
        return f"{info.describe()} is not of the type this node needs ({wanted})"
    if not info.is_active:
        return f"{info.describe()} is deactivated"
    return None


def resolve_binding(
    binding: Mapping[str, Any],
    repo: IntegrationRepository,
    *,
    masker: SecretMasker | None = None,
) -> DecryptedIntegration:
    """The decrypted credential a binding points at; its secrets go to ``masker`` first."""
    problem = binding_problem(binding, repo)
    if problem is not None:
        raise UnresolvedCredentialError(problem)
    info = _lookup(binding, repo)
    assert info is not None
    decrypted = repo.get_decrypted(info.id)
    if masker is not None:
        decrypted.register_secrets(masker)
    return decrypted


def resolve_node_credential(
    node: Node,
    repo: IntegrationRepository,
    *,
    masker: SecretMasker | None = None,
    accepted_types: tuple[str, ...] | str | None = None,
) -> dict[str, Any] | None:
    """The decrypted fields of the node's credential (None when the node has no binding).

    The dict holds the type's fields plus ``"type"`` (the credential type key, unless
    a field has that name). The secrets are registered with ``masker`` before the
    values are returned. Unbound / missing / inactive / wrong type / undecryptable →
    one error naming the node.
    """
    binding = node.data.credential
    if not binding:
        return None
    problem = binding_problem(binding, repo, accepted_types)
    if problem is not None:
        raise UnresolvedCredentialError(f"{node.describe()}: {problem}")
    try:
        decrypted = resolve_binding(binding, repo, masker=masker)
    except GlyphicError as exc:
        raise UnresolvedCredentialError(f"{node.describe()}: {exc.message}") from None
    values = dict(decrypted.fields)
    values.setdefault("type", decrypted.type)
    return values


class RepositoryCredentialResolver:
    """The engine's ``CredentialResolver`` (see ``engine/preflight.py``) over a repository.

    ``problem(binding, credential_type)`` for preflight; ``load(binding, credential_type)``
    returns the decrypted fields (plus ``"type"``) and registers the secrets with
    ``masker`` so every sink can hide them.
    """

    def __init__(self, repo: IntegrationRepository, masker: SecretMasker | None = None) -> None:
        self.repo = repo
        self.masker = masker

    def problem(self, binding: Mapping[str, Any], credential_type: str | None) -> str | None:
        """Why the binding cannot be used for ``credential_type``, or None."""
        return binding_problem(binding, self.repo, credential_type or None)

    def load(self, binding: Mapping[str, Any], credential_type: str | None) -> dict[str, Any]:
        """The decrypted fields (secrets registered with the masker first)."""
        problem = self.problem(binding, credential_type)
        if problem is not None:
            raise UnresolvedCredentialError(problem)
        decrypted = resolve_binding(binding, self.repo, masker=self.masker)
        values = dict(decrypted.fields)
        values.setdefault("type", decrypted.type)
        return values

    __call__ = problem


class DatabaseCredentialResolver:
    """A ``CredentialResolver`` for long-running engines: one short session per call.

    ``masker`` receives every loaded credential's secrets before the values are
    returned. ``keyset`` defaults to the process keyset (loaded on first ``load``).
    """

    def __init__(
        self,
        db: Any,
        user_id: Any,
        keyset: Any = None,
        masker: SecretMasker | None = None,
    ) -> None:
        self.db = db
        self.user_id = user_id
        self.keyset = keyset
        self.masker = masker

    def _repo(self, session: Any, *, with_key: bool) -> IntegrationRepository:
        from glyphic_desktop.store.repositories.integrations import IntegrationRepository

        keyset = None
        if with_key:
            if self.keyset is None:
                from glyphic_desktop.secrets.keys import require_keyset

                self.keyset = require_keyset()
            keyset = self.keyset
        return IntegrationRepository(session, self.user_id, keyset)

    def problem(self, binding: Mapping[str, Any], credential_type: str | None) -> str | None:
        """Why the binding cannot be used for ``credential_type``, or None."""
        with self.db.session() as session:
            return binding_problem(binding, self._repo(session, with_key=False), credential_type)

    def load(self, binding: Mapping[str, Any], credential_type: str | None) -> dict[str, Any]:
        """The decrypted fields plus ``"type"`` (secrets registered with the masker first)."""
        with self.db.session() as session:
            resolver = RepositoryCredentialResolver(self._repo(session, with_key=True), self.masker)
            return resolver.load(binding, credential_type)

    __call__ = problem
