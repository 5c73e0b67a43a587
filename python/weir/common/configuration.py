"""Configuration (PyFlink's ``pyflink.common.Configuration``): string keys and values."""


class Configuration(object):
    def __init__(self, other=None):
        self._data = dict(other._data) if isinstance(other, Configuration) else {}

    def set_string(self, key, value):
        self._data[key] = str(value)
        return self

    def get_string(self, key, default_value=None):
        return self._data.get(key, default_value)

    def set_integer(self, key, value):
        self._data[key] = str(int(value))
        return self

    def get_integer(self, key, default_value=None):
        v = self._data.get(key)
        return default_value if v is None else int(v)

    def set_boolean(self, key, value):
        self._data[key] = "true" if value else "false"
        return self

    def get_boolean(self, key, default_value=None):
        v = self._data.get(key)
        return default_value if v is None else v.lower() == "true"

    def set_float(self, key, value):
        self._data[key] = str(float(value))
        return self

    def get_float(self, key, default_value=None):
        v = self._data.get(key)
        return default_value if v is None else float(v)

    def contains_key(self, key):
        return key in self._data

    def remove_config(self, key):
        return self._data.pop(key, None) is not None

    def key_set(self):
        return set(self._data)

    def to_dict(self):
        return dict(self._data)

    def add_all(self, other, prefix=None):
        for k, v in other._data.items():
            self._data[(prefix or "") + k] = v
        return self

    def __eq__(self, other):
        return isinstance(other, Configuration) and self._data == other._data

    def __repr__(self):
        return "Configuration(%r)" % self._data


def parse_duration_ms(text, key):
    """'10 s', '1min', '500 ms', '3600000' → milliseconds (Flink's duration syntax)."""
    import re
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(text))
    if not m:
        raise ValueError("%s: %r is not a duration (e.g. '10 s', '500 ms', '1 min')" % (key, text))
    n, unit = int(m.group(1)), m.group(2).lower()
    scale = {"": 1, "ms": 1, "milli": 1, "millis": 1, "millisecond": 1, "milliseconds": 1,
             "s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
             "min": 60000, "m": 60000, "minute": 60000, "minutes": 60000,
             "h": 3600000, "hour": 3600000, "hours": 3600000,
             "d": 86400000, "day": 86400000, "days": 86400000}
    if unit not in scale:
        raise ValueError("%s: unknown time unit %r in %r" % (key, unit, text))
    return n * scale[unit]
