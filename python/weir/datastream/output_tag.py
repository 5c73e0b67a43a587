"""OutputTag: names a side output (PyFlink's ``pyflink.datastream.OutputTag``)."""
from weir.common.typeinfo import PickledBytesTypeInfo, _check_type_info


class OutputTag(object):
    def __init__(self, tag_id, type_info=None):
        if not isinstance(tag_id, str) or not tag_id:
            raise ValueError("OutputTag: the id must be a non-empty string")
        self.tag_id = tag_id
        self.type_info = _check_type_info(type_info, "OutputTag") or PickledBytesTypeInfo()

    def __eq__(self, other):
        return isinstance(other, OutputTag) and other.tag_id == self.tag_id

    def __hash__(self):
        return hash(self.tag_id)

    def __repr__(self):
        return "OutputTag(%r)" % self.tag_id
