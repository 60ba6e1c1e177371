"""Humekit's dtypes kept through files: restored on a table read back, carried into Parquet as Arrow types.

Categoricals (with their fixed categories), ``Int64``, ``Float64``, ``string`` and ``object`` columns (which
pyarrow alone would read back as ``str``) come back as they were written. A column named like one of
humekit's but holding another dtype (a user's own ``group`` or ``text``) is left as the user had it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from humekit.predictions._tables import FIXED_CATEGORIES, category_dtype, column_dtype

__all__ = ["arrow_table", "as_objects", "read_parquet_table", "restore_dtypes", "write_parquet"]

_NULLABLE = {"Int64": pd.Int64Dtype(), "Float64": pd.Float64Dtype(), "string": pd.StringDtype(na_value=pd.NA)}
_ARROW = {"category": pa.dictionary(pa.int32(), pa.string()), "Int64": pa.int64(),
          "Float64": pa.float64(), "string": pa.string()}  # fmt: skip


def restore_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a table's known columns humekit's dtypes (fixed categories included); others are left alone."""
    out = {}
    for name in frame.columns:
        column, kind = frame[name], column_dtype(name)
        if kind is None:
            pass  # not one of humekit's columns: keep the user's dtype
        elif kind == "category":
            fixed = list(FIXED_CATEGORIES.get(name, ()))
            values = column.astype("str").where(column.notna())
            present = pd.unique(values.dropna())
            extra = sorted(str(v) for v in present if v not in set(fixed))
            current = list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) else []
            if fixed:
                cats = fixed + extra
            elif current and set(present) <= set(current):
                cats = [str(c) for c in current]
            else:
                cats = extra
            column = pd.Series(pd.Categorical(values, dtype=category_dtype(cats)), index=frame.index)
        elif column.dtype != _NULLABLE[kind]:
            column = column.astype(_NULLABLE[kind])
        out[name] = column
    return pd.DataFrame(out, index=frame.index)


def _humekit_typed(name: str, dtype: Any) -> bool:
    """Whether a column named like one of humekit's holds humekit's dtype (not a user's column of that name)."""
    kind = column_dtype(name)
    if kind == "category":
        return isinstance(dtype, pd.CategoricalDtype)
    if kind == "string":
        return isinstance(dtype, pd.StringDtype) or dtype == object
    return kind is not None and str(dtype) in (kind, kind.lower())


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table, humekit's columns with their Arrow types, the others as pyarrow infers."""
    known = [c for c in frame.columns if _humekit_typed(c, frame[c].dtype)]
    table = pa.Table.from_pandas(frame, preserve_index=False)  # other columns (e.g. the ID) as pyarrow infers
    for c in known:
        want = column_dtype(c)
        if want is None:  # not a humekit column (known holds only those)
            continue
        i = table.schema.get_field_index(c)
        table = table.set_column(i, pa.field(c, _ARROW[want]), table.column(i).cast(_ARROW[want]))
    return table


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """The one way humekit writes a Parquet file: humekit's columns with their Arrow types, no index."""
    pq.write_table(arrow_table(frame), path)


def read_parquet_table(path: Path, *, restore: bool = False) -> pd.DataFrame:
    """A Parquet file or dataset as pandas with the dtypes written: ``object`` columns back as
    ``object`` (pyarrow makes them ``str``); with ``restore``, humekit's columns get humekit's dtypes
    (fixed categories; a dataset's partition column) unless a column of that name was written
    with another dtype (a user's own ``group`` or ``text`` column stays as it was)."""
    table = pq.read_table(path)
    frame = table.to_pandas()
    written = {c.get("name"): c for c in (table.schema.pandas_metadata or {}).get("columns", [])}
    for name in frame.columns:
        if (written.get(name) or {}).get("numpy_type") == "object" and frame[name].dtype != object:
            frame[name] = as_objects(frame[name])
    if not restore:
        return frame
    theirs = [c for c in frame.columns if c in written and column_dtype(c) is not None
              and not _humekit_typed(c, frame[c].dtype)]  # fmt: skip
    restored = restore_dtypes(frame.drop(columns=theirs))
    return pd.concat([restored, frame[theirs]], axis=1)[list(frame.columns)] if theirs else restored


def as_objects(column: pd.Series) -> pd.Series:
    """``column`` as ``object`` with ``None`` for missing values, as humekit's tables hold them."""
    # pandas-stubs reject na_value=None, which pandas documents and accepts
    values = column.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return pd.Series(values, index=column.index, dtype=object, name=column.name)
