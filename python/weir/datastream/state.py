"""State descriptors and TTL (PyFlink's ``pyflink.datastream.state``). The state handles
(``ValueState``, ``ListState``, ...) are the engine's: ``value()/update()/clear()``,
``get()/add()/add_all()/update()/clear()``, ``get/put/put_all/remove/contains/keys/values/items/
is_empty/clear``."""
from enum import Enum

from weir import _weir
from weir.common.time import Time, _millis
from weir.common.typeinfo import _check_type_info

ValueState = _weir.ValueState
ListState = _weir.ListState
MapState = _weir.MapState
ReducingState = _weir.ReducingState
AggregatingState = _weir.AggregatingState


class StateTtlConfig(object):
    class UpdateType(Enum):
        Disabled = 0
        OnCreateAndWrite = 1
        OnReadAndWrite = 2

    class StateVisibility(Enum):
        NeverReturnExpired = 0
        ReturnExpiredIfNotCleanedUp = 1

    class TtlTimeCharacteristic(Enum):
        ProcessingTime = 0

    def __init__(self, ttl_ms, update_type, visibility):
        self._ttl_ms = ttl_ms
        self._update_type = update_type.value
        self._visibility = visibility.value

    @staticmethod
    def new_builder(ttl):
        return StateTtlConfig.Builder(ttl)

    def get_ttl(self):
        return Time.milliseconds(self._ttl_ms)

    class Builder(object):
        def __init__(self, ttl):
            self._ttl_ms = _millis(ttl, "StateTtlConfig.new_builder", (Time,))
            if self._ttl_ms <= 0:
                raise ValueError("StateTtlConfig: the time-to-live must be positive")
            self._update = StateTtlConfig.UpdateType.OnCreateAndWrite
            self._visibility = StateTtlConfig.StateVisibility.NeverReturnExpired

        def set_update_type(self, update_type):
            self._update = update_type
            return self

        def update_ttl_on_create_and_write(self):
            return self.set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)

        def update_ttl_on_read_and_write(self):
            return self.set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)

        def set_state_visibility(self, visibility):
            self._visibility = visibility
            return self

        def return_expired_if_not_cleaned_up(self):
            return self.set_state_visibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)

        def never_return_expired(self):
            return self.set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)

        def set_ttl_time_characteristic(self, c):
            return self

        def use_processing_time(self):
            return self

        def cleanup_full_snapshot(self):
            return self

        def cleanup_incrementally(self, cleanup_size, run_cleanup_for_every_record):
            return self

        def cleanup_in_rocksdb_compact_filter(self, query_time_after_num_entries, periodic_compaction_time=None):
            return self

        def disable_cleanup_in_background(self):
            return self

        def set_ttl(self, ttl):
            self._ttl_ms = _millis(ttl, "StateTtlConfig.set_ttl", (Time,))
            return self

        def build(self):
            return StateTtlConfig(self._ttl_ms, self._update, self._visibility)


class StateDescriptor(object):
    def __init__(self, name, type_info=None):
        if not isinstance(name, str) or not name:
            raise ValueError("%s: the name must be a non-empty string" % type(self).__name__)
        self.name = name
        self.type_info = _check_type_info(type_info, type(self).__name__)
        self._ttl_config = None

    def get_name(self):
        return self.name

    def enable_time_to_live(self, ttl_config):
        if not isinstance(ttl_config, StateTtlConfig):
            raise TypeError("enable_time_to_live: expected a StateTtlConfig, not %r" % (ttl_config,))
        self._ttl_config = ttl_config


class ValueStateDescriptor(StateDescriptor):
    def __init__(self, name, value_type_info=None):
        super().__init__(name, value_type_info)


class ListStateDescriptor(StateDescriptor):
    def __init__(self, name, elem_type_info=None):
        super().__init__(name, elem_type_info)


class MapStateDescriptor(StateDescriptor):
    def __init__(self, name, key_type_info=None, value_type_info=None):
        super().__init__(name, value_type_info)
        self.key_type_info = _check_type_info(key_type_info, "MapStateDescriptor")


class ReducingStateDescriptor(StateDescriptor):
    def __init__(self, name, reduce_function, type_info=None):
        super().__init__(name, type_info)
        from weir.datastream.functions import ReduceFunction
        if isinstance(reduce_function, ReduceFunction):
            reduce_function = reduce_function.reduce
        if not callable(reduce_function):
            raise TypeError("ReducingStateDescriptor: expected a ReduceFunction or a callable")
        self._reduce_fn = reduce_function


class AggregatingStateDescriptor(StateDescriptor):
    def __init__(self, name, agg_function, state_type_info=None):
        super().__init__(name, state_type_info)
        for m in ("create_accumulator", "add", "get_result"):
            if not callable(getattr(agg_function, m, None)):
                raise TypeError("AggregatingStateDescriptor: the AggregateFunction has no %s()" % m)
        self._agg_function = agg_function


class StateBackend(object):
    pass


class HashMapStateBackend(StateBackend):
    pass


class EmbeddedRocksDBStateBackend(StateBackend):
    def __init__(self, enable_incremental_checkpointing=None, path=None):
        self._path = path


class MemoryStateBackend(HashMapStateBackend):
    pass


class FsStateBackend(HashMapStateBackend):
    def __init__(self, checkpoint_directory_uri=None, *args, **kwargs):
        self._uri = checkpoint_directory_uri
