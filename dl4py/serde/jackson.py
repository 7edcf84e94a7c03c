"""Writing JSON the way DL4J's Jackson mapper does: 2-space indent, ``"key" : value``, keys sorted with the type
property first, scalar arrays on one line, Java ``Double.toString`` spelling, NaN/infinities as strings."""
from __future__ import annotations

import json
import math
from typing import Any


def java_double(x: float) -> str:
    """Java's ``Double.toString``: ``1.0``, ``0.001``, ``1.0E-4``, ``1.0E7``, ``0.30000001192092896``."""
    if math.isnan(x):
        return '"NaN"'
    if math.isinf(x):
        return '"Infinity"' if x > 0 else '"-Infinity"'
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    a = abs(x)
    if 1e-3 <= a < 1e7:
        s = repr(x)
        if "e" in s or "E" in s:  # repr can use exponent form inside Java's plain range (never for these values)
            s = format(x, "f")
        return s if "." in s else s + ".0"
    digits, exponent = _shortest_digits(a)
    mantissa = digits[0] + "." + (digits[1:] or "0")
    return ("-" if x < 0 else "") + f"{mantissa}E{exponent}"


def _shortest_digits(a: float) -> tuple[str, int]:
    """Shortest round-tripping decimal digits of ``a`` and the exponent of the first digit."""
    s = repr(a)
    if "e" in s:
        mant, exp = s.split("e")
        exp_i = int(exp)
    else:
        mant, exp_i = s, 0
    if "." in mant:
        int_part, frac = mant.split(".")
    else:
        int_part, frac = mant, ""
    all_digits = (int_part + frac).lstrip("0")
    leading_zeros = len(int_part + frac) - len((int_part + frac).lstrip("0"))
    exponent = exp_i + len(int_part) - 1 - leading_zeros
    all_digits = all_digits.rstrip("0") or "0"
    return all_digits, exponent


def dumps(value: Any, newline: str = "\n") -> str:
    """Serialise plain JSON data (dicts already ordered as they must appear) in Jackson's pretty format."""
    out: list[str] = []
    _write(value, 0, out, newline)
    return "".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _write(value: Any, indent: int, out: list[str], nl: str) -> None:
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            out.append("{ }")
            return
        out.append("{" + nl)
        items = list(value.items())
        for i, (k, v) in enumerate(items):
            out.append(f"{pad}{json.dumps(str(k), ensure_ascii=False)} : ")
            _write(v, indent + 1, out, nl)
            out.append("," + nl if i < len(items) - 1 else nl)
        out.append("  " * indent + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[ ]")
            return
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            out.append("[ " + ", ".join(_scalar(v) for v in value) + " ]")
            return
        out.append("[ ")
        for i, v in enumerate(value):
            _write(v, indent, out, nl)
            if i < len(value) - 1:
                out.append(", ")
        out.append(" ]")
    else:
        out.append(_scalar(value))
