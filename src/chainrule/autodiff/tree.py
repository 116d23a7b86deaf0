"""Containers of tensors as trees (JAX's pytrees): flatten to leaves, rebuild, map.

The containers are tuples, lists, dicts (keys sorted, as JAX does), ``OrderedDict`` (insertion
order) and namedtuples (their type kept); ``None`` is an empty subtree, with no leaves. Anything
else, a Tensor, an ndarray, a float, a string, is a leaf. The transforms (``grad``, ``vjp``,
``jvp``, ``jacobian``, ``hessian``) differentiate with respect to every leaf of their arguments
and give results of the same structure.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = [
    "LEAF_DEF", "TreeDef", "any_leaf", "is_container", "tree_flatten", "tree_leaves", "tree_map",
    "tree_unflatten",
]

# a node's kind; its data: the keys (dicts), the class (namedtuples), else None
_LEAF, _NONE, _TUPLE, _LIST, _DICT, _ODICT, _NAMEDTUPLE = (
    "leaf", "none", "tuple", "list", "dict", "odict", "namedtuple")


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _sorted_keys(d: dict, path: str) -> list:
    try:
        return sorted(d)
    except TypeError:
        raise TypeError(
            f"tree_flatten: the keys of the dict at {path or 'the root'} cannot be sorted "
            f"({sorted({type(k).__name__ for k in d})}); use keys of one type"
        ) from None


class TreeDef:
    """The structure of a tree without its leaves: compare, rebuild, or flatten another tree."""

    __slots__ = ("children", "data", "kind", "num_leaves")

    def __init__(self, kind: str, data: Any = None, children: tuple[TreeDef, ...] = ()) -> None:
        self.kind = kind
        self.data = data
        self.children = children
        self.num_leaves: int = 1 if kind == _LEAF else sum(c.num_leaves for c in children)

    @property
    def is_leaf(self) -> bool:
        """Whether the whole tree is one leaf (a Tensor, an array, a float...)."""
        return self.kind == _LEAF

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Rebuild the tree with ``leaves`` in flattening order."""
        leaves = leaves if type(leaves) is list else list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(
                f"tree_unflatten: the structure has {self.num_leaves} leaves, got {len(leaves)}"
            )
        it = iter(leaves)
        return self._build(it)

    def _build(self, it: Iterator[Any]) -> Any:
        kind = self.kind
        if kind == _LEAF:
            return next(it)
        if kind == _NONE:
            return None
        items = [c._build(it) for c in self.children]
        if kind == _TUPLE:
            return tuple(items)
        if kind == _LIST:
            return items
        if kind == _NAMEDTUPLE:
            return self.data(*items)
        if kind == _ODICT:
            return OrderedDict(zip(self.data, items))
        return dict(zip(self.data, items))

    def flatten_up_to(self, tree: Any, what: str = "tree") -> list[Any]:
        """The subtrees of ``tree`` at this structure's leaves (``tree`` has it as a prefix).

        Raises ValueError naming the path where ``tree`` departs from the structure.
        """
        out: list[Any] = []
        self._up_to(tree, "", out, what)
        return out

    def _up_to(self, x: Any, path: str, out: list[Any], what: str) -> None:
        kind = self.kind
        if kind == _LEAF:
            out.append(x)
            return
        where = path or "the root"
        if kind == _NONE:
            if x is not None:
                raise ValueError(f"{what} has {_describe(x)} at {where} where None was expected")
            return
        got = _kind_of(x)
        same = got == kind and (kind != _NAMEDTUPLE or type(x) is self.data)
        if not same and not (kind in (_DICT, _ODICT) and got in (_DICT, _ODICT)):
            raise ValueError(
                f"{what} has {_describe(x)} at {where} where {self._describe()} was expected")
        if kind in (_DICT, _ODICT):
            if set(x) != set(self.data):
                raise ValueError(
                    f"{what} has a dict with keys {sorted(map(repr, x))} at {where} where keys "
                    f"{sorted(map(repr, self.data))} were expected")
            for k, c in zip(self.data, self.children):
                c._up_to(x[k], f"{path}[{k!r}]", out, what)
            return
        if len(x) != len(self.children):
            raise ValueError(
                f"{what} has {_describe(x)} at {where} where {self._describe()} was expected")
        for i, (xi, c) in enumerate(zip(x, self.children)):
            step = f".{self.data._fields[i]}" if kind == _NAMEDTUPLE else f"[{i}]"
            c._up_to(xi, path + step, out, what)

    def paths(self) -> list[str]:
        """The path of each leaf, in JAX's key-string style: ``[0]['W']``, ``.field``."""
        out: list[str] = []
        self._paths("", out)
        return out

    def _paths(self, path: str, out: list[str]) -> None:
        if self.kind == _LEAF:
            out.append(path)
        elif self.kind in (_DICT, _ODICT):
            for k, c in zip(self.data, self.children):
                c._paths(f"{path}[{k!r}]", out)
        elif self.kind == _NAMEDTUPLE:
            for f, c in zip(self.data._fields, self.children):
                c._paths(f"{path}.{f}", out)
        else:
            for i, c in enumerate(self.children):
                c._paths(f"{path}[{i}]", out)

    def _describe(self) -> str:
        if self.kind == _NAMEDTUPLE:
            return f"a {self.data.__name__} of {len(self.children)}"
        if self.kind in (_DICT, _ODICT):
            return "a dict"
        return f"a {self.kind} of {len(self.children)}"

    def _key(self) -> tuple:
        data = tuple(self.data) if self.kind in (_DICT, _ODICT) else self.data
        return (self.kind, data, tuple(c._key() for c in self.children))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeDef) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"TreeDef({self._show()})"

    def _show(self) -> str:
        kind = self.kind
        if kind == _LEAF:
            return "*"
        if kind == _NONE:
            return "None"
        parts = [c._show() for c in self.children]
        if kind in (_DICT, _ODICT):
            body = ", ".join(f"{k!r}: {p}" for k, p in zip(self.data, parts))
            return f"{{{body}}}" if kind == _DICT else f"OrderedDict({{{body}}})"
        if kind == _LIST:
            return f"[{', '.join(parts)}]"
        if kind == _NAMEDTUPLE:
            body = ", ".join(f"{f}={p}" for f, p in zip(self.data._fields, parts))
            return f"{self.data.__name__}({body})"
        return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"


def _kind_of(x: Any) -> str:
    if x is None:
        return _NONE
    t = type(x)
    if t is tuple:
        return _TUPLE
    if t is list:
        return _LIST
    if t is dict:
        return _DICT
    if t is OrderedDict:
        return _ODICT
    if _is_namedtuple(x):
        return _NAMEDTUPLE
    return _LEAF


def _describe(x: Any) -> str:
    kind = _kind_of(x)
    if kind == _NONE:
        return "None"
    if kind in (_TUPLE, _LIST):
        return f"a {kind} of {len(x)}"
    if kind in (_DICT, _ODICT):
        return "a dict"
    if kind == _NAMEDTUPLE:
        return f"a {type(x).__name__} of {len(x)}"
    return f"a leaf ({type(x).__name__})"


LEAF_DEF = _LEAF_DEF = TreeDef(_LEAF)
_NONE_DEF = TreeDef(_NONE)


def is_container(x: Any) -> bool:
    """Whether x is a tree node (a container or None), not a leaf."""
    return _kind_of(x) != _LEAF


def _flatten(x: Any, path: str, out: list[Any], is_leaf: Callable[[Any], bool] | None) -> TreeDef:
    if is_leaf is not None and is_leaf(x):
        out.append(x)
        return _LEAF_DEF
    kind = _kind_of(x)
    if kind == _LEAF:
        out.append(x)
        return _LEAF_DEF
    if kind == _NONE:
        return _NONE_DEF
    if kind in (_DICT, _ODICT):
        keys = _sorted_keys(x, path) if kind == _DICT else list(x)
        kids = tuple(_flatten(x[k], f"{path}[{k!r}]", out, is_leaf) for k in keys)
        return TreeDef(kind, tuple(keys), kids)
    kids = tuple(_flatten(xi, f"{path}[{i}]", out, is_leaf) for i, xi in enumerate(x))
    return TreeDef(kind, type(x) if kind == _NAMEDTUPLE else None, kids)


def tree_flatten(
    tree: Any, is_leaf: Callable[[Any], bool] | None = None
) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` in order, and its structure, as JAX's ``tree_util.tree_flatten``.

    Dict keys are visited sorted; ``None`` is an empty subtree (no leaf). ``is_leaf(x)`` true
    stops the descent at ``x``.
    """
    leaves: list[Any] = []
    treedef = _flatten(tree, "", leaves, is_leaf)
    return leaves, treedef


def tree_unflatten(treedef: TreeDef, leaves: Iterable[Any]) -> Any:
    """The tree of structure ``treedef`` holding ``leaves`` (in flattening order)."""
    if not isinstance(treedef, TreeDef):
        raise TypeError(f"tree_unflatten: expected a TreeDef, got {type(treedef).__name__}")
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """The leaves of ``tree`` in flattening order."""
    return tree_flatten(tree, is_leaf)[0]


def tree_map(
    f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: Callable[[Any], bool] | None = None
) -> Any:
    """Apply ``f`` to each leaf of ``tree`` (and the matching subtree of each of ``rest``).

    Each tree in ``rest`` has ``tree``'s structure, or a finer one: where ``tree`` has a leaf,
    ``f`` receives the whole subtree of the others (JAX's rule). The result has ``tree``'s
    structure; ``None`` subtrees stay ``None``.
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = [treedef.flatten_up_to(r, f"tree_map: tree {k + 1} of rest")
              for k, r in enumerate(rest)]
    return treedef.unflatten(f(*xs) for xs in zip(leaves, *others))


def any_leaf(tree: Any, pred: Callable[[Any], bool]) -> bool:
    """Whether pred holds for some leaf of tree, in any order (never raises on dict keys)."""
    kind = _kind_of(tree)
    if kind == _LEAF:
        return pred(tree)
    if kind == _NONE:
        return False
    items = tree.values() if kind in (_DICT, _ODICT) else tree
    return any(any_leaf(x, pred) for x in items)
