"""Resolves ``pyflink`` imports to the ``weir`` package, so a PyFlink job runs unchanged:
``import pyflink.datastream`` gives ``weir.datastream``. Installed by ``weir run`` and
``python -m weir``; ``install()`` installs it in any program."""
import importlib
import importlib.abc
import importlib.util
import sys


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "pyflink" and not fullname.startswith("pyflink."):
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec):
        real = "weir" + spec.name[len("pyflink"):]
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as e:
            if e.name is not None and e.name.startswith("weir") and real.startswith(e.name):
                raise ModuleNotFoundError(
                    "No module named %r: Weir runs PyFlink's DataStream API (pyflink.datastream, pyflink.common); "
                    "%s has no Weir counterpart" % (spec.name, spec.name), name=spec.name) from None
            raise
        self._original_spec = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module):
        # The import system set the alias's spec on the real module: put its own back.
        real = sys.modules.get("weir" + module.__spec__.name[len("pyflink"):]) if module.__spec__ else None
        if real is not None and getattr(self, "_original_spec", None) is not None:
            real.__spec__ = self._original_spec


_finder = _Alias()


def install():
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
