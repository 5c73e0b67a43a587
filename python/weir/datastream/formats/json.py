"""PyFlink's ``pyflink.datastream.formats.json``: JSON rows for Kafka and other connectors.

``JsonRowDeserializationSchema`` turns each record (a JSON object) into a ``Row`` with the
fields of its type info, in order; a record that is not JSON, or whose fields have other JSON
types than the type info says, is a bad record of the source (its ``BadRecordPolicy``
decides; ``ignore_parse_errors()`` skips them)."""
import json as _json

from weir.common.serialization import DeserializationSchema, SerializationSchema
from weir.common.typeinfo import BasicTypeInfo, ListTypeInfo, RowTypeInfo, TypeInformation
from weir.common.types import Row

_KINDS = {"String": "string", "Character": "string", "Boolean": "bool", "Byte": "int", "Short": "int",
          "Integer": "int", "Long": "int", "BigInteger": "int", "Float": "float", "Double": "float",
          "BigDecimal": "float"}


def _kind(t):
    if isinstance(t, BasicTypeInfo):
        return _KINDS.get(t._name, "any")
    return "any"


def _converter(t):
    """value parsed by json → the Python value of type info ``t``."""
    if isinstance(t, RowTypeInfo):
        names = t.get_field_names()
        convs = [_converter(x) for x in t.get_field_types()]

        def row(v):
            if v is None:
                return None
            if not isinstance(v, dict):
                raise ValueError("expected a JSON object, found %r" % (v,))
            return Row(**{n: c(v.get(n)) for n, c in zip(names, convs)})
        return row
    if isinstance(t, ListTypeInfo):
        elem = _converter(getattr(t, "element_type", None))
        return lambda v: None if v is None else [elem(x) for x in v]
    if isinstance(t, BasicTypeInfo) and _KINDS.get(t._name) == "float":
        return lambda v: None if v is None else float(v)
    return lambda v: v


def _plain(v):
    if isinstance(v, Row):
        names = v._fields
        if names is None:
            return [_plain(x) for x in v._values]
        return {n: _plain(x) for n, x in zip(names, v._values)}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


class JsonRowDeserializationSchema(DeserializationSchema):
    """JSON objects into Rows of a ``Types.ROW_NAMED(...)`` type info."""

    def __init__(self, type_info, fail_on_missing_field=False, ignore_parse_errors=False):
        self._type_info = type_info
        self._fail_on_missing_field = fail_on_missing_field
        self._ignore_parse_errors = ignore_parse_errors
        self._convert = _converter(type_info)

    @staticmethod
    def builder():
        return JsonRowDeserializationSchema.Builder()

    class Builder(object):
        def __init__(self):
            self._type_info = None
            self._fail_on_missing_field = False
            self._ignore_parse_errors = False

        def type_info(self, type_info):
            if not isinstance(type_info, RowTypeInfo):
                raise TypeError("JsonRowDeserializationSchema: type_info must be Types.ROW_NAMED(...), not %r"
                                % (type_info,))
            self._type_info = type_info
            return self

        def json_schema(self, json_schema):
            """A JSON schema of an object: its properties become the row's fields."""
            from weir.common.typeinfo import Types
            schema = _json.loads(json_schema) if isinstance(json_schema, str) else json_schema
            props = schema.get("properties", {})
            mapping = {"string": Types.STRING(), "integer": Types.LONG(), "number": Types.DOUBLE(),
                       "boolean": Types.BOOLEAN()}
            names = list(props)
            types = [mapping.get(props[n].get("type"), Types.PICKLED_BYTE_ARRAY()) for n in names]
            self._type_info = Types.ROW_NAMED(names, types)
            return self

        def fail_on_missing_field(self):
            self._fail_on_missing_field = True
            return self

        def ignore_parse_errors(self):
            self._ignore_parse_errors = True
            return self

        def build(self):
            if self._type_info is None:
                raise ValueError("JsonRowDeserializationSchema: call type_info(Types.ROW_NAMED(...)) or "
                                 "json_schema(...) before build()")
            return JsonRowDeserializationSchema(self._type_info, self._fail_on_missing_field,
                                                self._ignore_parse_errors)

    def get_produced_type(self):
        return self._type_info

    def _fields(self):
        """(name, JSON kind) pairs the engine checks each record against."""
        return [(n, _kind(t)) for n, t in zip(self._type_info.get_field_names(), self._type_info.get_field_types())]

    def deserialize(self, message):
        if isinstance(message, (bytes, bytearray)):
            message = bytes(message).decode("utf-8")
        return self._convert(_json.loads(message))

    def _from_text(self, text):
        return self._convert(_json.loads(text))


class JsonRowSerializationSchema(SerializationSchema):
    """Rows (or dicts) into JSON objects."""

    def __init__(self, type_info=None):
        self._type_info = type_info

    @staticmethod
    def builder():
        return JsonRowSerializationSchema.Builder()

    class Builder(object):
        def __init__(self):
            self._type_info = None

        def with_type_info(self, type_info):
            if not isinstance(type_info, TypeInformation):
                raise TypeError("JsonRowSerializationSchema: with_type_info expects a type info, not %r" % (type_info,))
            self._type_info = type_info
            return self

        def build(self):
            if self._type_info is None:
                raise ValueError("JsonRowSerializationSchema: call with_type_info(Types.ROW_NAMED(...)) before build()")
            return JsonRowSerializationSchema(self._type_info)

    def serialize(self, value):
        if isinstance(value, Row) and value._fields is None and isinstance(self._type_info, RowTypeInfo):
            value = Row._of(value._values, self._type_info.get_field_names(), value._row_kind.value)
        return _json.dumps(_plain(value), separators=(",", ":")).encode("utf-8")


__all__ = ["JsonRowDeserializationSchema", "JsonRowSerializationSchema"]
