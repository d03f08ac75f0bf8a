"""A report, losslessly, inside its JSON: what ``gradcheck merge`` reads back to render the merged report in
any format exactly as one run would have.

The JSON report names things for people; rebuilding every renderer's input from it would lose what it
does not spell (shapes, probe axes, one-sided slopes, patterns). So the JSON also carries ``archive``: the
report's frozen dataclasses, field by field, numpy arrays as their bytes (base64), the whole compressed.
Reading it builds only the dataclasses of this package (a class named outside ``gradcheck_cli`` is
refused) and plain values: nothing is evaluated, nothing unpickled.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import importlib
import json
import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from gradcheck_cli.errors import InputError

FORMAT = "gradcheck-cli/archive 1"
"""The archive's own version: bumped when the encoding changes; a report's classes carry theirs."""
PACKAGE = "gradcheck_cli."


def _name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _tree(value: Any) -> Any:
    """``value`` as JSON-ready data, each non-JSON kind tagged (``$c`` a dataclass, ``$a`` an array...)."""
    if isinstance(value, np.generic):  # before float: numpy's float64 is a float
        return {"$n": value.dtype.str, "v": _tree(value.item())}
    if value is None or (isinstance(value, (bool, str, int)) and not isinstance(value, enum.Enum)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return {"$l": [_tree(v) for v in value.tolist()], "shape": list(value.shape)}
        data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii")
        return {"$a": value.dtype.str, "shape": list(value.shape), "b": data}
    if isinstance(value, enum.Enum):
        return {"$e": _name(type(value)), "v": _tree(value.value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _tree(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {"$c": _name(type(value)), "f": fields}
    if isinstance(value, tuple):
        return {"$t": [_tree(v) for v in value]}
    if isinstance(value, list):
        return [_tree(v) for v in value]
    if isinstance(value, Mapping):
        return {"$d": [[_tree(k), _tree(v)] for k, v in value.items()]}
    raise TypeError(f"cannot archive a {type(value).__name__}")


def _class(name: str) -> Any:
    """The class ``module:qualname`` of this package; anything else is refused."""
    module, _, qualname = name.partition(":")
    if not module.startswith(PACKAGE):
        raise InputError(f"the archive names {name!r}, not a class of gradcheck-cli")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _value(tree: Any) -> Any:
    """The inverse of :func:`_tree`."""
    if isinstance(tree, list):
        return [_value(v) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if "$c" in tree:
        cls = _class(tree["$c"])
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise InputError(f"the archive names {tree['$c']!r}, which is not a data class")
        return cls(**{name: _value(v) for name, v in tree["f"].items()})
    if "$a" in tree:
        dtype = np.dtype(tree["$a"])
        data = base64.b64decode(tree["b"])
        return np.frombuffer(data, dtype=dtype).reshape(tree["shape"]).copy()
    if "$l" in tree:
        return np.array([_value(v) for v in tree["$l"]], dtype=object).reshape(tree["shape"])
    if "$n" in tree:
        return np.dtype(tree["$n"]).type(_value(tree["v"]))
    if "$e" in tree:
        cls = _class(tree["$e"])
        if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
            raise InputError(f"the archive names {tree['$e']!r}, which is not an enumeration")
        return cls(_value(tree["v"]))
    if "$f" in tree:
        return float(tree["$f"])
    if "$t" in tree:
        return tuple(_value(v) for v in tree["$t"])
    if "$d" in tree:
        return {_value(k): _value(v) for k, v in tree["$d"]}
    raise InputError(f"the archive holds an unknown value {sorted(tree)!r}")


def pack(value: Any) -> dict[str, str]:
    """``value`` (a report and what goes with it) as the ``archive`` member of a JSON report."""
    text = json.dumps(_tree(value), separators=(",", ":"), allow_nan=False)
    data = base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")
    return {"format": FORMAT, "data": data}


def unpack(archive: Any) -> Any:
    """The value :func:`pack` packed; :class:`InputError` when ``archive`` is not one."""
    if not isinstance(archive, dict) or archive.get("format") != FORMAT:
        found = archive.get("format") if isinstance(archive, dict) else type(archive).__name__
        raise InputError(f"the archive is {found!r}, expected {FORMAT!r} (written by another version?)")
    try:
        tree = json.loads(zlib.decompress(base64.b64decode(archive["data"])))
    except (ValueError, KeyError, zlib.error) as exc:
        raise InputError(f"the archive is damaged: {exc}") from None
    try:
        return _value(tree)
    except (TypeError, ValueError, AttributeError, ImportError, KeyError) as exc:
        raise InputError(f"the archive does not fit this version of gradcheck-cli: {exc}") from None
