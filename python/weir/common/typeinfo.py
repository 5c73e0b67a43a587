"""Type information (PyFlink's ``Types``): how a stream's values are checked, printed and
encoded. Values travel as Python objects inside a process; a type only changes how they are
printed (as Flink prints the Java value) and is checked by ``from_collection``."""
import datetime
import decimal


class TypeInformation(object):
    """The type of a stream's values."""
    _name = "TypeInformation"

    def __repr__(self):
        return self._name

    def __eq__(self, other):
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self):
        return hash(repr(self))

    def format(self, value):
        """The text ``print()`` shows for ``value`` (Java's toString of the value)."""
        return _java_str(value)

    def check(self, value):
        return None

    def _converter(self):
        """A function that gives a value this type's shape (a tuple becomes a Row for a row type,
        a float is rounded to 32 bits for FLOAT), or None when values pass unchanged."""
        return None


def _round_float32(v):
    import struct
    if v is None:
        return None
    return struct.unpack("f", struct.pack("f", v))[0]


def _java_str(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        r = repr(v)
        if r == "inf":
            return "Infinity"
        if r == "-inf":
            return "-Infinity"
        if r == "nan":
            return "NaN"
        return r
    from weir.common.types import Row
    if isinstance(v, Row):
        return "%s[%s]" % (v.get_row_kind(), ",".join(_java_str(x) for x in v))
    if isinstance(v, tuple):
        return "(%s)" % ",".join(_java_str(x) for x in v)
    if isinstance(v, (list,)):
        return "[%s]" % ", ".join(_java_str(x) for x in v)
    if isinstance(v, dict):
        return "{%s}" % ", ".join("%s=%s" % (_java_str(k), _java_str(x)) for k, x in v.items())
    if isinstance(v, (bytes, bytearray)):
        return "[%s]" % ", ".join(str(b if b < 128 else b - 256) for b in v)
    return str(v)


class BasicTypeInfo(TypeInformation):
    def __init__(self, name, py_types):
        self._name = name
        self._py_types = py_types

    def __eq__(self, other):
        return isinstance(other, BasicTypeInfo) and self._name == other._name

    def __hash__(self):
        return hash(self._name)

    def check(self, value):
        if value is not None and not isinstance(value, self._py_types):
            raise TypeError("%r is not a %s (a %s)" % (value, self._name, type(value).__name__))

    def _converter(self):
        return _round_float32 if self._name == "Float" else None


class PickledBytesTypeInfo(TypeInformation):
    """Any Python value (PyFlink pickles it); ``print()`` shows ``str(value)``."""
    _name = "PICKLED_BYTE_ARRAY"

    def format(self, value):
        return str(value)


class RowTypeInfo(TypeInformation):
    def __init__(self, field_types, field_names=None):
        self._field_types = list(field_types)
        self._field_names = list(field_names) if field_names is not None else [
            "f%d" % i for i in range(len(self._field_types))]
        self._named = field_names is not None
        self._name = "Row(%s)" % ", ".join("%s: %r" % (n, t) for n, t in zip(self._field_names, self._field_types))

    def get_field_names(self):
        return list(self._field_names)

    def get_field_types(self):
        return list(self._field_types)

    def get_field_index(self, name):
        return self._field_names.index(name)

    def get_arity(self):
        return len(self._field_types)

    def format(self, value):
        from weir.common.types import Row
        if isinstance(value, Row):
            return "%s[%s]" % (value.get_row_kind(), ",".join(
                "None" if v is None else t.format(v) for t, v in zip(self._field_types, value)))
        if isinstance(value, (tuple, list)):
            return "+I[%s]" % ",".join("None" if v is None else t.format(v) for t, v in zip(self._field_types, value))
        return _java_str(value)

    def check(self, value):
        from weir.common.types import Row
        if not isinstance(value, (Row, tuple, list)):
            raise TypeError("%r is not a Row" % (value,))
        if len(value) != len(self._field_types):
            raise TypeError("%r has %d fields, the row type %d" % (value, len(value), len(self._field_types)))

    def _converter(self):
        from weir.common.types import Row
        convs = [t._converter() for t in self._field_types]
        names = self._field_names if self._named else None

        def conv(v):
            if v is None:
                return None
            if isinstance(v, Row):
                kind = v._row_kind_value
                values = v._values
                fields = v._fields if v._fields is not None else names
            elif isinstance(v, (tuple, list)):
                kind, values, fields = 0, v, names
            else:
                raise TypeError("%r is not a Row (the stream's type is %r)" % (v, self))
            if len(values) != len(convs):
                raise TypeError("%r has %d fields, the row type %d" % (v, len(values), len(convs)))
            return Row._of([x if c is None else c(x) for c, x in zip(convs, values)], fields, kind)
        return conv


class TupleTypeInfo(TypeInformation):
    def __init__(self, field_types):
        self._field_types = list(field_types)
        self._name = "Tuple(%s)" % ", ".join(repr(t) for t in self._field_types)

    def get_field_types(self):
        return list(self._field_types)

    def format(self, value):
        if isinstance(value, (tuple, list)):
            return "(%s)" % ",".join(t.format(v) for t, v in zip(self._field_types, value))
        return _java_str(value)

    def check(self, value):
        if not isinstance(value, (tuple, list)) or len(value) != len(self._field_types):
            raise TypeError("%r is not a tuple of %d fields" % (value, len(self._field_types)))

    def _converter(self):
        convs = [t._converter() for t in self._field_types]
        if all(c is None for c in convs):
            return None
        return lambda v: None if v is None else tuple(x if c is None else c(x) for c, x in zip(convs, v))


class ListTypeInfo(TypeInformation):
    def __init__(self, element_type, name="List"):
        self.element_type = element_type
        self._name = "%s<%r>" % (name, element_type)

    def format(self, value):
        return "[%s]" % ", ".join(self.element_type.format(v) for v in value)

    def _converter(self):
        c = self.element_type._converter()
        return None if c is None else (lambda v: None if v is None else [c(x) for x in v])


class MapTypeInfo(TypeInformation):
    def __init__(self, key_type, value_type):
        self._key_type = key_type
        self._value_type = value_type
        self._name = "Map<%r, %r>" % (key_type, value_type)

    def format(self, value):
        return "{%s}" % ", ".join("%s=%s" % (self._key_type.format(k), self._value_type.format(v))
                                  for k, v in value.items())


class Types(object):
    """PyFlink's ``Types``: ``Types.INT()``, ``Types.ROW([...])``, ``Types.TUPLE([...])``, ..."""

    @staticmethod
    def STRING():
        return BasicTypeInfo("String", (str,))

    @staticmethod
    def BYTE():
        return BasicTypeInfo("Byte", (int,))

    @staticmethod
    def BOOLEAN():
        return BasicTypeInfo("Boolean", (bool,))

    @staticmethod
    def SHORT():
        return BasicTypeInfo("Short", (int,))

    @staticmethod
    def INT():
        return BasicTypeInfo("Integer", (int,))

    @staticmethod
    def LONG():
        return BasicTypeInfo("Long", (int,))

    @staticmethod
    def FLOAT():
        return BasicTypeInfo("Float", (float, int))

    @staticmethod
    def DOUBLE():
        return BasicTypeInfo("Double", (float, int))

    @staticmethod
    def CHAR():
        return BasicTypeInfo("Character", (str,))

    @staticmethod
    def BIG_INT():
        return BasicTypeInfo("BigInteger", (int,))

    @staticmethod
    def BIG_DEC():
        return BasicTypeInfo("BigDecimal", (decimal.Decimal, int, float))

    @staticmethod
    def INSTANT():
        return BasicTypeInfo("Instant", (datetime.datetime,))

    @staticmethod
    def SQL_DATE():
        return BasicTypeInfo("Date", (datetime.date,))

    @staticmethod
    def SQL_TIME():
        return BasicTypeInfo("Time", (datetime.time,))

    @staticmethod
    def SQL_TIMESTAMP():
        return BasicTypeInfo("Timestamp", (datetime.datetime,))

    @staticmethod
    def PICKLED_BYTE_ARRAY():
        return PickledBytesTypeInfo()

    @staticmethod
    def ROW(field_types):
        return RowTypeInfo(field_types)

    @staticmethod
    def ROW_NAMED(field_names, field_types):
        if len(field_names) != len(field_types):
            raise ValueError("Types.ROW_NAMED: %d names for %d types" % (len(field_names), len(field_types)))
        return RowTypeInfo(field_types, field_names)

    @staticmethod
    def TUPLE(field_types):
        return TupleTypeInfo(field_types)

    @staticmethod
    def PRIMITIVE_ARRAY(element_type):
        return ListTypeInfo(element_type, "PrimitiveArray")

    @staticmethod
    def BASIC_ARRAY(element_type):
        return ListTypeInfo(element_type, "BasicArray")

    @staticmethod
    def OBJECT_ARRAY(element_type):
        return ListTypeInfo(element_type, "ObjectArray")

    @staticmethod
    def LIST(element_type):
        return ListTypeInfo(element_type)

    @staticmethod
    def MAP(key_type, value_type):
        return MapTypeInfo(key_type, value_type)


def _check_type_info(type_info, what):
    if type_info is not None and not isinstance(type_info, TypeInformation):
        raise TypeError("%s: the type must be a TypeInformation such as Types.INT(), not %r" % (what, type_info))
    return type_info
