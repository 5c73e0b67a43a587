"""Serialization schemas and encoders (PyFlink's ``pyflink.common.serialization``)."""


class SerializationSchema(object):
    def serialize(self, value):
        raise NotImplementedError


class DeserializationSchema(object):
    def deserialize(self, message):
        raise NotImplementedError


class SimpleStringSchema(SerializationSchema, DeserializationSchema):
    """UTF-8 strings: bytes in, ``str`` out (and back)."""

    def __init__(self, charset="UTF-8"):
        self._charset = charset

    def deserialize(self, message):
        return bytes(message).decode(self._charset)

    def serialize(self, value):
        return str(value).encode(self._charset)

    def __eq__(self, other):
        return isinstance(other, SimpleStringSchema) and other._charset == self._charset


class ByteArraySchema(SerializationSchema, DeserializationSchema):
    """Raw bytes."""

    def deserialize(self, message):
        return bytes(message)

    def serialize(self, value):
        return bytes(value)


class Encoder(object):
    """How a row-format FileSink writes a value (PyFlink's ``Encoder``)."""

    def __init__(self, fn, charset="UTF-8"):
        self._fn = fn
        self._charset = charset

    @staticmethod
    def simple_string_encoder(charset_name="UTF-8"):
        return Encoder(lambda v: str(v), charset_name)

    def encode(self, value):
        return self._fn(value).encode(self._charset) + b"\n"


class BulkWriterFactory(object):
    pass
