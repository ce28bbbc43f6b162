"""Blueprints: the training/inference pipeline as a node graph whose settings are the workflow.

A graph is JSON::

    {"nodes": [{"id": "src", "type": "source", "settings": {"profile": "plant-default"},
                "position": {"x": 40, "y": 60}}, ...],
     "edges": [{"from": "src", "to": "feat"}, ...]}

Each node type owns some workflow settings (:data:`NODE_SETTINGS`); a node may give any of
them, and :func:`graph_settings` turns the nodes into one partial change for
``WorkflowConfig.apply`` (settings a node leaves out keep their current value). The ``source``
node names the input profile trainings use; the ``exporter`` node the output profile exports use.

:func:`validate_graph` lists every problem as ``{"node"?, "field"?, "message"}``;
:func:`check_graph` raises BadInput with them (``fields`` keyed ``graph.nodes.<i>.<field>``).
"""

from __future__ import annotations

from collections import defaultdict

from routing_site.errors import BadInput
from workflow_app import settings_schema

NODE_SETTINGS: dict[str, tuple[str, ...]] = {
    "source": ("profile",),
    "features": ("feature_weights",),
    "embedding": ("embedding_dim",),
    "index": ("hnsw_m", "hnsw_ef_construction", "hnsw_ef_search"),
    "registry": ("eval_sample", "feedback"),
    "runtime": ("cache_size", "prediction_log_size", "shadow_requests", "drift_window",
                "drift_similarity_delta", "drift_low_share_delta"),
    "predictor": ("top_k", "candidates", "min_similarity", "percentiles", "support_power",
                  "cluster_radius", "vote_share", "prefer_actuals", "routing_rules"),
    "exporter": ("profile",),
}  # fmt: skip
REQUIRED_TYPES = ("source", "features", "embedding", "index", "registry", "runtime", "predictor")
PROFILE_DIRECTION = {"source": "input", "exporter": "output"}
PROFILE_TARGET = {"source": "training_profile", "exporter": "export_profile"}
MAX_NODES = 50
MAX_ID = 64
DEFAULT_NAME = "standard pipeline"

# where the shipped blueprint draws each node (left to right, training above inference)
LAYOUT = {
    "source": (40, 60), "features": (260, 60), "embedding": (480, 60), "index": (700, 60),
    "registry": (920, 60), "runtime": (260, 260), "predictor": (480, 260), "exporter": (700, 260),
}  # fmt: skip
DEFAULT_EDGES = [
    ("source", "features"), ("features", "embedding"), ("embedding", "index"),
    ("index", "registry"), ("registry", "runtime"), ("runtime", "predictor"),
    ("predictor", "exporter"),
]  # fmt: skip


class _Errors(list):
    def add(
        self, message: str, node: str | None = None, field: str | None = None, path: str = "graph"
    ):
        entry = {"message": message, "path": path}
        if node is not None:
            entry["node"] = node
        if field is not None:
            entry["field"] = field
        self.append(entry)


def validate_graph(graph) -> list[dict]:
    """Every problem of ``graph``: ``[{"node"?, "field"?, "message", "path"}]`` (empty if valid)."""
    errors = _Errors()
    if not isinstance(graph, dict):
        errors.add('a blueprint graph is an object {"nodes": [...], "edges": [...]}')
        return errors
    for key in sorted(set(graph) - {"nodes", "edges"}):
        errors.add(f"unknown key {key!r}; a graph has nodes and edges", path=f"graph.{key}")
    nodes = graph.get("nodes")
    edges = graph.get("edges", [])
    if not isinstance(nodes, list) or not nodes:
        errors.add("nodes must be a non-empty list", path="graph.nodes")
        return errors
    if len(nodes) > MAX_NODES:
        errors.add(f"at most {MAX_NODES} nodes", path="graph.nodes")
        return errors
    types = _check_nodes(nodes, errors)
    if not isinstance(edges, list):
        errors.add("edges must be a list of {from, to}", path="graph.edges")
        return errors
    _check_edges(edges, types, errors)
    return errors


def _check_nodes(nodes: list, errors: _Errors) -> dict[str, str]:
    """Node by node; returns {id: type} of the nodes whose id is usable."""
    types: dict[str, str] = {}
    seen_types: dict[str, str] = {}
    training_profile = _source_profile(nodes)
    for i, node in enumerate(nodes):
        path = f"graph.nodes.{i}"
        if not isinstance(node, dict):
            errors.add("a node is an object {id, type, settings, position}", path=path)
            continue
        node_id = node.get("id")
        if not isinstance(node_id, str) or not node_id.strip() or len(node_id) > MAX_ID:
            errors.add(
                f"id must be a non-empty text of at most {MAX_ID} characters",
                field="id",
                path=f"{path}.id",
            )
            node_id = None
        elif node_id in types:
            errors.add(
                f"duplicate node id {node_id!r}", node=node_id, field="id", path=f"{path}.id"
            )
            node_id = None
        kind = node.get("type")
        if not isinstance(kind, str) or kind not in NODE_SETTINGS:
            errors.add(
                f"unknown node type {kind!r}; known: {', '.join(NODE_SETTINGS)}",
                node=node_id,
                field="type",
                path=f"{path}.type",
            )
        elif kind in seen_types:
            errors.add(
                f"only one {kind} node per blueprint (also {seen_types[kind]!r})",
                node=node_id,
                field="type",
                path=f"{path}.type",
            )
        else:
            seen_types[kind] = node_id or "?"
            _check_settings(node, kind, node_id, path, errors, training_profile)
        _check_keys_and_position(node, node_id, path, errors)
        if node_id is not None:
            types[node_id] = kind
    for kind in REQUIRED_TYPES:
        if kind not in seen_types:
            errors.add(f"a {kind} node is required", path="graph.nodes")
    return types


def _source_profile(nodes: list) -> str | None:
    """The input profile the source node names (feature weights must be its attributes)."""
    for node in nodes:
        if isinstance(node, dict) and node.get("type") == "source":
            values = node.get("settings")
            profile = values.get("profile") if isinstance(values, dict) else None
            return profile if isinstance(profile, str) and profile else None
    return None


def _check_keys_and_position(node: dict, node_id, path: str, errors: _Errors) -> None:
    for key in sorted(set(node) - {"id", "type", "settings", "position", "label"}):
        errors.add(
            f"unknown key {key!r}; a node has id, type, settings, position, label",
            node=node_id,
            field=key,
            path=f"{path}.{key}",
        )
    position = node.get("position")
    if position is None:
        return
    ok = isinstance(position, dict) and all(
        isinstance(position.get(axis), (int, float)) and not isinstance(position.get(axis), bool)
        for axis in ("x", "y")
    )
    if not ok:
        errors.add(
            "position must be {x: number, y: number}",
            node=node_id,
            field="position",
            path=f"{path}.position",
        )


def _check_settings(
    node: dict, kind: str, node_id, path: str, errors: _Errors, training_profile: str | None
) -> None:
    values = node.get("settings", {})
    if not isinstance(values, dict):
        errors.add(
            "settings must be an object", node=node_id, field="settings", path=f"{path}.settings"
        )
        return
    allowed = NODE_SETTINGS[kind]
    for key in values:
        if key not in allowed:
            errors.add(
                f"{key!r} is not a setting of a {kind} node; allowed: {', '.join(allowed)}",
                node=node_id,
                field=f"settings.{key}",
                path=f"{path}.settings.{key}",
            )
    workflow = {k: v for k, v in values.items() if k in allowed and k != "profile"}
    try:
        settings_schema.validate_changes(workflow, training_profile)
    except BadInput as exc:
        for key, messages in exc.fields.items():
            errors.add(
                f"{key}: {messages[0]}",
                node=node_id,
                field=f"settings.{key}",
                path=f"{path}.settings.{key}",
            )
    if "profile" in values and "profile" in allowed:
        _check_profile(values["profile"], kind, node_id, path, errors)


def _check_profile(name, kind: str, node_id, path: str, errors: _Errors) -> None:
    from workflow_app.models import MappingProfile

    direction = PROFILE_DIRECTION[kind]
    if isinstance(name, str) and name and MappingProfile.objects.exists_named(name, direction):
        return
    known = ", ".join(MappingProfile.objects.names(direction))
    errors.add(
        f"profile: no {direction} mapping profile {name!r}; known: {known}",
        node=node_id,
        field="settings.profile",
        path=f"{path}.settings.profile",
    )


def _check_edges(edges: list, types: dict[str, str], errors: _Errors) -> None:
    pairs = set()
    for j, edge in enumerate(edges):
        path = f"graph.edges.{j}"
        if not isinstance(edge, dict) or set(edge) - {"from", "to", "id"}:
            errors.add("an edge is an object {from, to}", path=path)
            continue
        ends = (edge.get("from"), edge.get("to"))
        if not all(isinstance(end, str) for end in ends):
            errors.add("an edge's from and to are node ids", path=path)
            continue
        missing = [end for end in ends if end not in types]
        if missing:
            errors.add(
                f"edge {ends[0]!r} → {ends[1]!r} names no existing node {missing[0]!r}", path=path
            )
        elif ends[0] == ends[1]:
            errors.add(f"edge from {ends[0]!r} to itself", node=ends[0], path=path)
        elif ends in pairs:
            errors.add(f"duplicate edge {ends[0]!r} → {ends[1]!r}", path=path)
        else:
            pairs.add(ends)
    cycle = _cycle(types, pairs)
    if cycle:
        errors.add(
            "the graph has a cycle: " + " → ".join([*cycle, cycle[0]]),
            node=cycle[0],
            path="graph.edges",
        )


def _cycle(nodes: dict, pairs: set) -> list[str]:
    """One cycle as a list of node ids (empty when the graph is acyclic)."""
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(pairs):
        succ[a].append(b)
    state: dict[str, int] = {}  # 1 on the path, 2 done
    for start in nodes:
        if state.get(start):
            continue
        stack, path = [(start, iter(succ[start]))], [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child) :]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(succ[child])))
                path.append(child)
    return []


def check_graph(graph) -> dict:
    """``graph`` when valid; else BadInput whose ``fields`` name every problem by path."""
    errors = validate_graph(graph)
    if errors:
        fields: dict[str, list[str]] = {}
        for e in errors:
            fields.setdefault(e["path"], []).append(e["message"])
        raise BadInput(
            f"Invalid blueprint: {errors[0]['message']}", fields=fields, code="invalid_blueprint"
        )
    return graph


def graph_settings(graph: dict) -> dict:
    """The workflow settings the nodes give (one partial change)."""
    values = {}
    for node in graph["nodes"]:
        for key, value in (node.get("settings") or {}).items():
            if key != "profile":
                values[key] = value
    return values


def graph_profiles(graph: dict) -> dict[str, str]:
    """{"training_profile", "export_profile"} named by the source and exporter nodes."""
    out = {}
    for node in graph["nodes"]:
        target = PROFILE_TARGET.get(node.get("type"))
        profile = (node.get("settings") or {}).get("profile")
        if target and profile:
            out[target] = profile
    return out


def default_graph(values: dict | None = None, profiles: dict | None = None) -> dict:
    """The standard pipeline with ``values`` (default: the shipped defaults) in its nodes."""
    from workflow_app.models import DEFAULT_INPUT_PROFILE, DEFAULT_OUTPUT_PROFILE

    values = {**settings_schema.defaults(), **(values or {})}
    profiles = profiles or {}
    nodes = []
    for kind, keys in NODE_SETTINGS.items():
        if kind in PROFILE_TARGET:
            fallback = DEFAULT_INPUT_PROFILE if kind == "source" else DEFAULT_OUTPUT_PROFILE
            node_settings = {"profile": profiles.get(PROFILE_TARGET[kind]) or fallback}
        else:
            node_settings = {key: values[key] for key in keys}
        x, y = LAYOUT[kind]
        nodes.append(
            {"id": kind, "type": kind, "settings": node_settings, "position": {"x": x, "y": y}}
        )
    edges = [{"from": a, "to": b} for a, b in DEFAULT_EDGES]
    return {"nodes": nodes, "edges": edges}


def node_types() -> dict:
    """What the blueprint editor's palette needs: each type, its settings and their schema."""
    out = {}
    for kind, keys in NODE_SETTINGS.items():
        out[kind] = {
            "required": kind in REQUIRED_TYPES,
            "settings": {key: setting_schema(key) for key in keys},
        }
    return out


def setting_schema(key: str) -> dict:
    if key == "profile":
        return {
            "type": "profile",
            "default": None,
            "min": None,
            "max": None,
            "scope": "profile",
            "help": "Name of a mapping profile.",
        }
    s = settings_schema.SETTINGS[key]
    default = settings_schema.defaults()[key]
    kinds = s.kind if isinstance(s.kind, tuple) else (s.kind,)
    return {
        "type": "|".join(_type_name(k) for k in kinds),
        "default": default,
        "min": s.minimum,
        "max": s.maximum,
        "scope": s.scope,
        "help": s.help,
    }


def _type_name(kind: type) -> str:
    return {int: "int", float: "float", bool: "bool", list: "list", dict: "dict", str: "str"}.get(
        kind, kind.__name__
    )
