"""Hypothesis strategies for the reader fuzz tests (tests/test_fuzz_readers.py): arbitrary JSON, JSON documents
with a few values deleted or replaced, byte strings with flipped bytes or cut short, Python source with spans
deleted or garbage inserted, and the parameters of small GeoTIFFs written with rasterio."""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import strategies as st

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "EPSG:32654", "2020-01-01", "phase", "FeatureCollection", "Feature", "Point"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indexes) to a value inside a JSON document, the root excluded."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def mutated_json(draw, document: Any, max_mutations: int = 3) -> Any:
    """``document`` with 1..max_mutations values deleted, replaced by arbitrary JSON or retyped."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = _paths(doc)
        if not paths:
            return draw(json_values)
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "retype", "text"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "text":
            parent[path[-1]] = draw(st.text(max_size=6) | st.sampled_from(["nan", "-1", "1e400", "0", "x"]))
        else:
            parent[path[-1]] = _retyped(parent[path[-1]], draw(st.integers(0, 4)))
    return doc


def _retyped(value: Any, how: int) -> Any:
    """The same value in a neighbouring JSON type (number <-> string, scalar -> list, ...)."""
    if how == 0:
        return str(value)
    if how == 1:
        return [value]
    if how == 2:
        return {"value": value}
    if how == 3:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return -value * 1e12
    return 0


@st.composite
def corrupted_bytes(draw, data: bytes, focus: int = 1024) -> bytes:
    """``data`` with up to 8 bytes replaced (mostly in the first ``focus`` bytes: headers) and/or cut short."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 8))):
        end = len(out) if draw(st.booleans()) else min(len(out), focus)
        if end:
            out[draw(st.integers(0, end - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


PYTHON_NOISE = st.text(alphabet="()[]{}:=,.'\"#\n\t _abcxyz0123456789+-*/\\", min_size=1, max_size=6)


@st.composite
def mutated_source(draw, text: str) -> str:
    """Python source with 1..3 spans deleted, garbage inserted, or a number replaced by text."""
    for _ in range(draw(st.integers(1, 3))):
        if not text:
            break
        start = draw(st.integers(0, len(text) - 1))
        action = draw(st.sampled_from(["delete", "insert", "line"]))
        if action == "delete":
            text = text[:start] + text[start + draw(st.integers(1, 40)) :]
        elif action == "insert":
            text = text[:start] + draw(PYTHON_NOISE) + text[start:]
        else:
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            lines[index] = draw(
                st.sampled_from(["", "    ", "\tx = 1\n", "return\n", "  )\n", "import nothing_here\n"])
            )
            text = "".join(lines)
    return text


GEOTIFF_DTYPES = ("uint8", "int16", "uint16", "int32", "float32", "float64", "complex64")
PIXEL_SIZES = (28.0, 10.0, 56.0, 0.00025, 1e-9, 1e7, -28.0)


@st.composite
def geotiff_params(draw) -> dict:
    """What to write with ``rasters.write_raster``: bands, dtype, transform, CRS, nodata, tags, descriptions."""
    count = draw(st.integers(1, 2))
    return {
        "height": draw(st.sampled_from((1, 7, 48, 150, 171))),
        "width": draw(st.sampled_from((1, 9, 48, 150, 163))),
        "count": count,
        "dtype": draw(st.sampled_from(GEOTIFF_DTYPES)),
        "pixel_x": draw(st.sampled_from(PIXEL_SIZES)),
        "pixel_y": -draw(st.sampled_from(PIXEL_SIZES)),
        "shear": draw(st.sampled_from((0.0, 0.0, 0.0, 0.5))),
        "origin": draw(st.sampled_from(((500_000.0, 4_000_000.0), (140.0, 36.0), (0.0, 0.0), (1e12, -1e12)))),
        "crs": draw(st.sampled_from((None, "EPSG:32654", "EPSG:4326", "EPSG:3857"))),
        "nodata": draw(st.sampled_from((None, 0.0, -9999.0, float("nan")))),
        "values": draw(st.sampled_from(("ramp", "wrapped", "zeros", "nan", "huge"))),
        "tags": draw(
            st.dictionaries(
                st.sampled_from(
                    ("FIRST_DATE", "SECOND_DATE", "WAVELENGTH_METRES", "INCIDENCE_DEGREES", "ORBIT")
                ),
                st.text(alphabet="0123456789-.eE abc", max_size=12),
                max_size=3,
            )
        ),
        "descriptions": draw(
            st.sampled_from(
                (None, ("phase",), ("magnitude", "phase"), ("amplitude", "phase"), ("phase", "phase"))
            )
        )
        if count == 2
        else None,
    }
