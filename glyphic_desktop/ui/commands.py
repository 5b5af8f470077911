"""Every edit of the workflow graph as a ``QUndoCommand`` over a :class:`GraphModel`.

Push a command onto the editor's ``QUndoStack``; ``push`` runs ``redo()`` once. Commands
that can be refused (connect, a bad setting) check in their constructor and raise
:class:`~glyphic_desktop.ui.graph_model.EditError` with a message for the user, so
nothing is pushed. Removed nodes, edges and groups are kept as JSON snapshots together
with their document indexes, so an undo puts them back exactly where they were.

Ids: new node and edge ids come from ``next_node_id()`` / ``next_link_id()`` when the
command is *built*; ``redo`` after ``undo`` reuses them. The counters only grow, so an
undo never lowers ``last_node_id`` / ``last_link_id``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic_core import to_jsonable_python
from PySide6.QtGui import QUndoCommand

from glyphic_desktop.document.model import (
    Edge,
    Group,
    InputPort,
    Node,
    NodeData,
    OutputPort,
    WorkflowDocument,
)
from glyphic_desktop.ui.graph_model import MISSING, EditError, GraphModel, lookup_type

_MOVE_ID = 0x4D4F56
_FIELD_ID = 0x464C44
_RESIZE_ID = 0x52535A


def _dump(item: Node | Edge | Group) -> dict[str, Any]:
    return item.model_dump(mode="json")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _batched(method: Any) -> Any:
    """Wrap a command's ``redo`` / ``undo`` in one model batch."""

    @functools.wraps(method)
    def run(self: ModelCommand) -> None:
        with self.model.batch():
            method(self)

    run.__batched__ = True  # type: ignore[attr-defined]
    return run


class ModelCommand(QUndoCommand):
    """Base of every editor command: holds the model it edits.

    Each subclass's ``redo`` and ``undo`` run inside one :meth:`GraphModel.batch`, so
    the model's ``batch_finished`` is emitted once per command however many items it
    touches.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("redo", "undo"):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__batched__", False):
                setattr(cls, name, _batched(method))

    def __init__(self, model: GraphModel, text: str) -> None:
        super().__init__(text)
        self.model = model


# -- nodes ---------------------------------------------------------------------------


def new_node(
    model: GraphModel,
    key: str,
    pos: tuple[float, float] = (0.0, 0.0),
    label: str | None = None,
) -> Node:
    """A new node of registered type ``key`` with a fresh id, its ports and default fields.

    An unregistered ``key`` gives an EditError naming it.
    """
    spec = lookup_type(model.registry, key)
    if spec is None:
        raise EditError(f"unknown node type {key!r}")
    fields: dict[str, Any] = {}
    for name, info in spec.Fields.model_fields.items():
        if not info.is_required():
            fields[name] = to_jsonable_python(info.get_default(call_default_factory=True))
    data = NodeData(label=label if label is not None else spec.title, nodeType=key, fields=fields)
    data.typeVersion = int(getattr(spec, "version", 1))  # type: ignore[attr-defined]
    return Node(
        id=model.doc.next_node_id(),
        type=key,
        pos=[float(pos[0]), float(pos[1])],
        data=data,
        inputs=[InputPort(name=p.name, type=p.type) for p in spec.inputs],
        outputs=[OutputPort(name=p.name, type=p.type) for p in spec.outputs],
    )


class AddNodesCommand(ModelCommand):
    """Add nodes (then edges, then groups) at the end of the document.

    The command owns the node, edge and group objects it adds (objects given to it are
    copied unless ``owned``): undo takes them out of the document and redo puts the same
    objects back, so neither serialises anything (O(added items)).
    """

    def __init__(
        self,
        model: GraphModel,
        nodes: Iterable[Node | Mapping[str, Any]],
        edges: Iterable[Edge | Mapping[str, Any]] = (),
        groups: Iterable[tuple[str, Group | Mapping[str, Any]]] = (),
        text: str | None = None,
        *,
        owned: bool = False,
    ) -> None:
        self._nodes = [_own(Node, n, owned) for n in nodes]
        self._edges = [_own(Edge, e, owned) for e in edges]
        self._groups = [(key, _own(Group, g, owned)) for key, g in groups]
        super().__init__(model, text or f"Add {_plural(len(self._nodes), 'node')}")
        self.node_ids = [n.id for n in self._nodes]
        self.edge_ids = [e.id for e in self._edges]
        self.group_keys = [key for key, _ in self._groups]

    def redo(self) -> None:
        """Insert the items."""
        model = self.model
        model.append_nodes(self._nodes)
        model.append_edges(self._edges)
        for key, group in self._groups:
            model.insert_group(len(model.doc.groups), group, key)

    def undo(self) -> None:
        """Remove what redo added (keeping the objects for the next redo)."""
        model = self.model
        groups = dict(self._groups)
        for key in reversed(self.group_keys):
            groups[key] = model.delete_group(key)[1]
        self._groups = [(key, groups[key]) for key in self.group_keys]
        self._edges = [
            e for _, e in sorted(model.delete_edges(self.edge_ids), key=_by_id(self.edge_ids))
        ]
        self._nodes = [
            n for _, n in sorted(model.delete_nodes(self.node_ids), key=_by_id(self.node_ids))
        ]


def _own(kind: Any, item: Any, owned: bool) -> Any:
    """``item`` as a ``kind`` object this command alone holds."""
    if isinstance(item, kind):
        return item if owned else item.model_copy(deep=True)
    return kind.model_validate(item)


def _by_id(ids: list[Any]) -> Any:
    order = {item_id: i for i, item_id in enumerate(ids)}
    return lambda entry: order[entry[1].id]


def add_node_command(
    model: GraphModel, key: str, pos: tuple[float, float], label: str | None = None
) -> AddNodesCommand:
    """The command adding one new node of type ``key`` at ``pos`` (``.node_ids[0]`` is its id)."""
    node = new_node(model, key, pos, label)
    return AddNodesCommand(model, [node], text=f"Add {node.data.label or key}", owned=True)


class RemoveCommand(ModelCommand):
    """Remove nodes (with every edge touching them), edges and groups."""

    def __init__(
        self,
        model: GraphModel,
        node_ids: Iterable[str] = (),
        edge_ids: Iterable[int] = (),
        group_keys: Iterable[str] = (),
        text: str | None = None,
    ) -> None:
        self.node_ids = list(dict.fromkeys(node_ids))
        self.extra_edge_ids = list(dict.fromkeys(edge_ids))
        self.group_keys = list(dict.fromkeys(group_keys))
        for node_id in self.node_ids:
            model.node(node_id)
        for edge_id in self.extra_edge_ids:
            model.edge(edge_id)
        for key in self.group_keys:
            model.group(key)
        parts = []
        if self.node_ids:
            parts.append(_plural(len(self.node_ids), "node"))
        if self.extra_edge_ids:
            parts.append(_plural(len(self.extra_edge_ids), "connection"))
        if self.group_keys:
            parts.append(_plural(len(self.group_keys), "group"))
        super().__init__(model, text or f"Delete {', '.join(parts) or 'nothing'}")
        self._edges: list[tuple[int, Edge]] = []
        self._nodes: list[tuple[int, Node]] = []
        self._groups: list[tuple[int, str, Group]] = []

    def redo(self) -> None:
        """Remove, keeping JSON snapshots and indexes for undo."""
        model = self.model
        edge_ids = dict.fromkeys(self.extra_edge_ids)
        for node_id in self.node_ids:
            edge_ids.update(dict.fromkeys(model.edges_of(node_id)))
        # The removed objects themselves are kept (nothing else holds them while they
        # are out of the document): undo puts them back without serialising anything.
        self._edges = model.delete_edges(edge_ids)
        self._nodes = model.delete_nodes(self.node_ids)
        order = {key: i for i, key in enumerate(model.group_keys())}
        self._groups = []
        for key in sorted(self.group_keys, key=lambda k: order[k], reverse=True):
            index, group = model.delete_group(key)
            self._groups.append((index, key, group))

    def undo(self) -> None:
        """Put everything back at its old index."""
        model = self.model
        for index, key, group in sorted(self._groups, key=lambda entry: entry[0]):
            model.insert_group(index, group, key)
        model.insert_nodes(self._nodes)
        model.insert_edges(self._edges)


class MoveCommand(ModelCommand):
    """Move many nodes (and groups) as one edit.

    ``nodes`` maps node id → ``(old_xy, new_xy)``; ``groups`` maps group key →
    ``(old_bounding, new_bounding)``. Commands with the same non-None ``merge_key``
    moving the same items merge into one undo entry (consecutive nudges or the steps
    of one drag).
    """

    def __init__(
        self,
        model: GraphModel,
        nodes: Mapping[str, tuple[Sequence[float], Sequence[float]]],
        groups: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
        merge_key: Any = None,
    ) -> None:
        self.nodes = {k: (tuple(o), tuple(n)) for k, (o, n) in nodes.items()}
        self.groups = {k: (list(o), list(n)) for k, (o, n) in (groups or {}).items()}
        self.merge_key = merge_key
        parts = []
        if self.nodes:
            parts.append(_plural(len(self.nodes), "node"))
        if self.groups:
            parts.append(_plural(len(self.groups), "group"))
        super().__init__(model, f"Move {', '.join(parts)}")

    def id(self) -> int:
        """Mergeable only with a merge key."""
        return _MOVE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Absorb ``other`` when it moves the same items under the same merge key."""
        if not isinstance(other, MoveCommand) or other.merge_key != self.merge_key:
            return False
        if self.nodes.keys() != other.nodes.keys() or self.groups.keys() != other.groups.keys():
            return False
        for key, (_, new) in other.nodes.items():
            self.nodes[key] = (self.nodes[key][0], new)
        for key, (_, new) in other.groups.items():
            self.groups[key] = (self.groups[key][0], new)
        return True

    def _apply(self, which: int) -> None:
        if self.nodes:
            self.model.set_positions({k: v[which] for k, v in self.nodes.items()})
        for key, bounds in self.groups.items():
            self.model.set_group_bounding(key, bounds[which])

    def redo(self) -> None:
        """Move to the new positions."""
        self._apply(1)

    def undo(self) -> None:
        """Move back."""
        self._apply(0)


# -- edges ---------------------------------------------------------------------------


class ConnectCommand(ModelCommand):
    """Connect an output to an input; an edge already on that input is replaced.

    Refused (EditError with the reason) when the ports do not exist, are the same node,
    are already connected or have incompatible types.
    """

    def __init__(
        self, model: GraphModel, source: str, source_port: str, target: str, target_port: str
    ) -> None:
        reason = model.check_connection(source, source_port, target, target_port)
        if reason is not None:
            raise EditError(f"cannot connect: {reason}")
        out_port = model.port(source, source_port, output=True)
        self.edge_id = model.doc.next_link_id()
        self._edge = {
            "id": self.edge_id,
            "source": source,
            "sourceHandle": source_port,
            "target": target,
            "targetHandle": target_port,
            "type": out_port.type if out_port else "any",
        }
        self._replaced: list[tuple[int, dict[str, Any]]] = []
        super().__init__(model, "Connect")

    def redo(self) -> None:
        """Drop what occupied the input, add the edge."""
        model = self.model
        occupied = model.edges_into(self._edge["target"], self._edge["targetHandle"])
        self._replaced = [(i, _dump(e)) for i, e in model.delete_edges(occupied)]
        model.append_edges([Edge.model_validate(self._edge)])

    def undo(self) -> None:
        """Remove the edge, restore the replaced one."""
        self.model.delete_edges([self.edge_id])
        self.model.insert_edges((i, Edge.model_validate(e)) for i, e in self._replaced)


class DisconnectCommand(RemoveCommand):
    """Remove edges."""

    def __init__(self, model: GraphModel, edge_ids: Iterable[int]) -> None:
        edge_ids = list(edge_ids)
        super().__init__(
            model, edge_ids=edge_ids, text=f"Disconnect {_plural(len(edge_ids), 'wire')}"
        )


# -- node content --------------------------------------------------------------------


class SetFieldCommand(ModelCommand):
    """Set one field of a node (``MISSING`` removes it); ``merge=True`` merges typing."""

    def __init__(
        self, model: GraphModel, node_id: str, name: str, value: Any, merge: bool = False
    ) -> None:
        node = model.node(node_id)
        super().__init__(model, f"Edit {name} of {node.label}")
        self.node_id, self.name, self.value, self.merge = node_id, name, value, merge
        self._old: Any = node.data.fields.get(name, MISSING)

    def id(self) -> int:
        """Mergeable when built with ``merge=True``."""
        return _FIELD_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Absorb a later edit of the same field of the same node."""
        if (
            isinstance(other, SetFieldCommand)
            and other.merge
            and (other.node_id, other.name) == (self.node_id, self.name)
        ):
            self.value = other.value
            return True
        return False

    def redo(self) -> None:
        """Set the new value."""
        self.model.set_field(self.node_id, self.name, self.value)

    def undo(self) -> None:
        """Restore the old value (or absence)."""
        self.model.set_field(self.node_id, self.name, self._old)


class RenameCommand(ModelCommand):
    """Change a node's label."""

    def __init__(self, model: GraphModel, node_id: str, label: str) -> None:
        node = model.node(node_id)
        super().__init__(model, f"Rename {node.label} to {label}")
        self.node_id, self.label, self._old = node_id, label, node.data.label

    def redo(self) -> None:
        """Set the new label."""
        self.model.set_label(self.node_id, self.label)

    def undo(self) -> None:
        """Restore the old label."""
        self.model.set_label(self.node_id, self._old)


class SetSettingCommand(ModelCommand):
    """Set an engine setting (disabled, retries, retryDelay, timeout, onError, credential).

    The value is validated when the command is built (EditError naming node and setting).
    """

    def __init__(self, model: GraphModel, node_id: str, name: str, value: Any) -> None:
        node = model.node(node_id)
        self.value = model.validate_setting(node_id, name, value)
        super().__init__(model, f"Set {name} of {node.label}")
        self.node_id, self.name = node_id, name
        self._old: Any = MISSING

    def redo(self) -> None:
        """Set the new value, remembering the old one."""
        self._old = self.model.set_setting(self.node_id, self.name, self.value)

    def undo(self) -> None:
        """Restore the old value."""
        self.model.set_setting(self.node_id, self.name, self._old)


# -- groups --------------------------------------------------------------------------


class GroupCommand(ModelCommand):
    """Add a group frame ``bounding`` = [x, y, width, height] (``EditorScene.group_selection``)."""

    def __init__(
        self,
        model: GraphModel,
        bounding: Sequence[float],
        title: str = "Group",
        color: str | None = None,
    ) -> None:
        if len(bounding) != 4 or bounding[2] <= 0 or bounding[3] <= 0:
            raise EditError(f"group bounding must be [x, y, width > 0, height > 0], got {bounding}")
        super().__init__(model, f"Group {title!r}")
        self.key = model.new_group_key()
        self._group = {"id": self.key, "title": title, "bounding": [float(v) for v in bounding]}
        if color is not None:
            self._group["color"] = color

    def redo(self) -> None:
        """Add the group."""
        self.model.insert_group(len(self.model.doc.groups), Group.model_validate(self._group))

    def undo(self) -> None:
        """Remove the group."""
        self.model.delete_group(self.key)


class UngroupCommand(ModelCommand):
    """Remove a group frame (its nodes stay)."""

    def __init__(self, model: GraphModel, key: str) -> None:
        group = model.group(key)
        super().__init__(model, f"Ungroup {group.title!r}")
        self.key = key
        self._index = 0
        self._group: dict[str, Any] = {}

    def redo(self) -> None:
        """Remove the group, keeping a snapshot."""
        self._index, group = self.model.delete_group(self.key)
        self._group = _dump(group)

    def undo(self) -> None:
        """Put the group back."""
        self.model.insert_group(self._index, Group.model_validate(self._group), self.key)


class ResizeGroupCommand(ModelCommand):
    """Change a group's bounding; ``merge=True`` merges the steps of one resize drag."""

    def __init__(
        self, model: GraphModel, key: str, bounding: Sequence[float], merge: bool = False
    ) -> None:
        group = model.group(key)
        if len(bounding) != 4 or bounding[2] <= 0 or bounding[3] <= 0:
            raise EditError(
                f"group {group.title!r}: bounding must be [x, y, width > 0, height > 0]"
            )
        super().__init__(model, f"Resize group {group.title!r}")
        self.key, self.merge = key, merge
        self.bounding = [float(v) for v in bounding]
        self._old = list(group.bounding)

    def id(self) -> int:
        """Mergeable when built with ``merge=True``."""
        return _RESIZE_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Absorb a later resize of the same group."""
        if isinstance(other, ResizeGroupCommand) and other.merge and other.key == self.key:
            self.bounding = other.bounding
            return True
        return False

    def redo(self) -> None:
        """Apply the new bounding."""
        self.model.set_group_bounding(self.key, self.bounding)

    def undo(self) -> None:
        """Restore the old bounding."""
        self.model.set_group_bounding(self.key, self._old)


class RenameGroupCommand(ModelCommand):
    """Change a group's title."""

    def __init__(self, model: GraphModel, key: str, title: str) -> None:
        group = model.group(key)
        super().__init__(model, f"Rename group {group.title!r}")
        self.key, self.title, self._old = key, title, group.title

    def redo(self) -> None:
        """Set the new title."""
        self.model.set_group_title(self.key, self.title)

    def undo(self) -> None:
        """Restore the old title."""
        self.model.set_group_title(self.key, self._old)


class SetGroupColorCommand(ModelCommand):
    """Change a group's colour (None: the theme's)."""

    def __init__(self, model: GraphModel, key: str, color: str | None) -> None:
        group = model.group(key)
        super().__init__(model, f"Colour group {group.title!r}")
        self.key, self.color, self._old = key, color, group.color

    def redo(self) -> None:
        """Set the new colour."""
        self.model.set_group_color(self.key, self.color)

    def undo(self) -> None:
        """Restore the old colour."""
        self.model.set_group_color(self.key, self._old)


# -- whole document ----------------------------------------------------------------


class ReplaceDocumentCommand(ModelCommand):
    """Replace the whole document — nodes, edges, groups, config, metadata — as one edit.

    The open workflow's ``id`` and ``revision`` stay; ``last_node_id`` / ``last_link_id``
    become the larger of both documents' (and stay so after an undo), so ids only grow.
    ``document`` is copied when the command is built; later changes to it do not matter.
    """

    def __init__(
        self, model: GraphModel, document: WorkflowDocument, text: str = "Replace the workflow"
    ) -> None:
        super().__init__(model, text)
        self._new = document.model_dump(mode="json")
        self._old: WorkflowDocument | None = None

    def redo(self) -> None:
        """Swap in a fresh copy of the new document, keeping the current one for undo."""
        self._old = self.model.replace_document(WorkflowDocument.model_validate(self._new))

    def undo(self) -> None:
        """Swap the previous document back (its id counters raised to the current ones)."""
        if self._old is not None:
            self.model.replace_document(self._old)
            self._old = None


# -- paste ---------------------------------------------------------------------------


class PasteCommand(AddNodesCommand):
    """Insert a workflow fragment (a copied selection or a whole file) with fresh ids.

    ``copy=False`` hands ``fragment`` over (it is renumbered in place, not copied).
    Node and edge ids are renumbered, edges whose ends are not both in the fragment are
    dropped, groups get fresh ids. With ``at`` the fragment's top-left node lands there;
    otherwise everything shifts by ``offset``.
    """

    def __init__(
        self,
        model: GraphModel,
        fragment: WorkflowDocument,
        at: tuple[float, float] | None = None,
        offset: tuple[float, float] = (40.0, 40.0),
        text: str | None = None,
        *,
        copy: bool = True,
    ) -> None:
        if at is not None and fragment.nodes:
            dx = at[0] - min(n.pos[0] for n in fragment.nodes)
            dy = at[1] - min(n.pos[1] for n in fragment.nodes)
        else:
            dx, dy = offset
        doc = model.doc
        mapping: dict[str, str] = {}
        nodes = []
        # The fragment is copied (unless the caller hands it over: ``copy=False``), then
        # renumbered in place.
        if copy:
            fragment = fragment.model_copy(deep=True)
        for node in fragment.nodes:
            mapping[node.id] = node.id = doc.next_node_id()
            node.pos = [node.pos[0] + dx, node.pos[1] + dy]
            for port in node.inputs:
                port.link = None
            for port in node.outputs:
                port.links = []
            nodes.append(node)
        edges = []
        for edge in fragment.edges:
            if edge.source in mapping and edge.target in mapping:
                edge.id = doc.next_link_id()
                edge.source = mapping[edge.source]
                edge.target = mapping[edge.target]
                edges.append(edge)
        groups = []
        for group in fragment.groups:
            key = group.id = model.new_group_key()
            x, y, w, h = group.bounding
            group.bounding = [x + dx, y + dy, w, h]
            groups.append((key, group))
        super().__init__(
            model,
            nodes,
            edges,
            groups,
            text or f"Paste {_plural(len(nodes), 'node')}",
            owned=True,
        )
