"""Row and RowKind (PyFlink's ``pyflink.common.types``)."""
from enum import Enum


class RowKind(Enum):
    INSERT = 0
    UPDATE_BEFORE = 1
    UPDATE_AFTER = 2
    DELETE = 3

    def __str__(self):
        return ("+I", "-U", "+U", "-D")[self.value]

    def short_string(self):
        return str(self)


class Row(object):
    """A row of values, with optional field names: ``Row(1, 'a')``, ``Row(id=1, name='a')``.

    Fields are read by position (``row[0]``) or, for named rows, by name (``row.name``,
    ``row['name']``). ``Row('id', 'name')`` with strings only makes a row class: call it with
    the values (``Row('id', 'name')(1, 'a')``), as in PyFlink.
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Can not use both args and kwargs to create Row")
        if kwargs:
            object.__setattr__(self, "_fields", list(kwargs.keys()))
            object.__setattr__(self, "_values", list(kwargs.values()))
        else:
            object.__setattr__(self, "_fields", None)
            object.__setattr__(self, "_values", list(args))
        object.__setattr__(self, "_row_kind", RowKind.INSERT)

    @classmethod
    def _of(cls, values, fields, kind):
        r = cls.__new__(cls)
        object.__setattr__(r, "_values", list(values))
        object.__setattr__(r, "_fields", list(fields) if fields is not None else None)
        object.__setattr__(r, "_row_kind", RowKind(kind))
        return r

    @property
    def _row_kind_value(self):
        return self._row_kind.value

    def as_dict(self, recursive=False):
        if self._fields is None:
            raise TypeError("as_dict: this row has no field names")

        def conv(v):
            if recursive and isinstance(v, Row):
                return v.as_dict(True)
            return v
        return dict(zip(self._fields, (conv(v) for v in self._values)))

    def get_row_kind(self):
        return self._row_kind

    def set_row_kind(self, row_kind):
        object.__setattr__(self, "_row_kind", row_kind)

    def set_field_names(self, field_names):
        object.__setattr__(self, "_fields", list(field_names))

    def get_fields_by_names(self, names):
        return [self[n] for n in names]

    def __call__(self, *args):
        if self._fields is not None or not all(isinstance(v, str) for v in self._values):
            raise TypeError("Row: only a row of field names can be called (Row('a', 'b')(1, 2))")
        if len(args) > len(self._values):
            raise ValueError("Row: %d values for %d fields" % (len(args), len(self._values)))
        return Row._of(args, self._values[:len(args)], 0)

    def __getitem__(self, item):
        if isinstance(item, (int, slice)):
            return self._values[item]
        if self._fields is None:
            raise KeyError(item)
        try:
            return self._values[self._fields.index(item)]
        except ValueError:
            raise KeyError(item) from None

    def __setitem__(self, item, value):
        if isinstance(item, int):
            self._values[item] = value
        elif self._fields is not None and item in self._fields:
            self._values[self._fields.index(item)] = value
        else:
            raise KeyError(item)

    def __getattr__(self, item):
        if item.startswith("__") or item in ("_fields", "_values", "_row_kind"):
            raise AttributeError(item)
        fields = object.__getattribute__(self, "_fields")
        if fields is not None and item in fields:
            return object.__getattribute__(self, "_values")[fields.index(item)]
        raise AttributeError(item)

    def __setattr__(self, key, value):
        if self._fields is not None and key in self._fields:
            self._values[self._fields.index(key)] = value
        else:
            raise AttributeError("Row: no field %r" % key)

    def __len__(self):
        return len(self._values)

    def __iter__(self):
        return iter(self._values)

    def __contains__(self, item):
        return item in self._values

    def __eq__(self, other):
        if not isinstance(other, Row):
            return False
        return (self._values == other._values and self._fields == other._fields
                and self._row_kind == other._row_kind)

    def __hash__(self):
        return hash((tuple(self._values), tuple(self._fields or ())))

    def __repr__(self):
        if self._fields is not None:
            return "Row(%s)" % ", ".join("%s=%r" % (k, v) for k, v in zip(self._fields, self._values))
        return "<Row(%s)>" % ", ".join(repr(v) for v in self._values)

    def __reduce__(self):
        return (Row._of, (self._values, self._fields, self._row_kind.value))
