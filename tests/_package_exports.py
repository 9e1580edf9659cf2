"""What the chapter-2 packages (one module per part of the paper, every name re-exported) must export."""

import importlib
import pkgutil
import types


def public_names_of_modules(package: types.ModuleType) -> set[str]:
    """The public functions, classes and upper-case constants defined in the modules of ``package``."""
    public = set()
    for info in pkgutil.iter_modules(package.__path__):
        mod = importlib.import_module(f"{package.__name__}.{info.name}")
        public |= {n for n, v in vars(mod).items()
                   if not n.startswith("_") and (getattr(v, "__module__", None) == mod.__name__
                                                     or (n.isupper() and not isinstance(v, types.ModuleType)))}
    return public
