"""The layers import only downwards, and no layer reaches into another's private names.

Every module under ``bayesquad/`` is parsed with ``ast`` (nothing is imported, so this runs in
a fraction of a second) and each ``import``/``from ... import`` of ``bayesquad`` -- at the top
of a module or inside a function -- is checked against two rules:

(a) a module imports no layer after its own:
    quadrature (1) < distributions (2) < inference (3) < diagnostics, report, calibration,
    cli, model_file (4);
(b) a module imports no private name of another top-level part of the package: no ``_x``
    module (``bayesquad.inference._model``, ``from bayesquad.inference import _map``) and no
    ``_x`` attribute (``from bayesquad.quadrature._frozen import _mapped_nodes``).  Inside its
    own subpackage a module may import anything.

``bayesquad._tf``, ``bayesquad._xla_env`` and ``bayesquad._elementwise`` (vectorised
elementary functions, TF only) are the shared private helpers every layer may import, and ``import bayesquad`` (the root, whose names load lazily) is allowed everywhere.
"""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bayesquad"

LAYERS = {"quadrature": 1, "distributions": 2, "inference": 3, "diagnostics": 4, "report": 4,
          "calibration": 4, "cli": 4, "model_file": 4}
#: Private modules of the package root that every layer may import.
SHARED = {"bayesquad._tf", "bayesquad._xla_env", "bayesquad._elementwise"}

#: Violations allowed, each ``(importing module, private module or name it imports)``:
#: none since issue 12. Keep it so: a violation not listed fails, and so does an entry that
#: no longer occurs.
KNOWN = set()


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(name):
    """The top-level part of the package a dotted name belongs to (``bayesquad.X...`` -> X)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(source, module, is_package):
    """``(line, imported name)`` for every import of ``bayesquad`` in ``source``, the text of
    ``module`` (a package's ``__init__`` if ``is_package``).

    ``from A import b`` yields ``A.b`` (a submodule or an attribute, both checked alike).
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "bayesquad" or alias.name.startswith("bayesquad."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base == "bayesquad" or base.startswith("bayesquad."):
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"


def _is_private(part):
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _private(name):
    """``name`` cut after its last private part (``bayesquad.quadrature._frozen.GaussLegendre``
    -> ``bayesquad.quadrature._frozen``), or None when it has none."""
    parts = name.split(".")
    last = max((i for i, p in enumerate(parts) if i and _is_private(p)), default=None)
    return None if last is None else ".".join(parts[:last + 1])


def _check(source, module, is_package=False, where=None):
    """``{(module, imported): "where:line: rule"}`` for one module's source."""
    found = {}
    own = _part(module)
    for line, name in _imports(source, module, is_package):
        target = _part(name)
        if target is None or target == own or any(
                name == s or name.startswith(s + ".") for s in SHARED):
            continue
        at = f"{where or module}:{line}"
        if own in LAYERS and target in LAYERS and LAYERS[target] > LAYERS[own]:
            found[(module, name)] = (f"{at}: layer {LAYERS[own]} ({own}) imports layer "
                                     f"{LAYERS[target]} ({name})")
        elif _private(name):
            found[(module, _private(name))] = f"{at}: private name of another part: {name}"
    return found


def _violations():
    """:func:`_check` over every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found.update(_check(path.read_text(), _module_name(path), path.name == "__init__.py",
                            str(path.relative_to(ROOT))))
    return found


def test_every_module_is_in_a_layer():
    """A new top-level module or subpackage must be given a layer here (or be shared)."""
    parts = {_part(_module_name(p)) for p in PACKAGE.rglob("*.py")} - {None}
    unknown = sorted(p for p in parts
                     if p not in LAYERS and f"bayesquad.{p}" not in SHARED)
    assert not unknown, f"add these to LAYERS (or SHARED) in {__file__}: {unknown}"


def test_no_layer_imports_upwards_or_into_private_names():
    new = {key: text for key, text in _violations().items() if key not in KNOWN}
    assert not new, "imports that break the layering:\n" + "\n".join(sorted(new.values()))


def test_known_violations_still_exist():
    """The allow-list only shrinks: an entry whose import is gone must be deleted."""
    stale = sorted(KNOWN - set(_violations()))
    assert not stale, f"fixed, so delete from KNOWN in {__file__}: {stale}"


def test_the_checker_sees_violations():
    """The rules catch what they are meant to, on synthetic modules."""
    source = ("from bayesquad.inference import _model\n"
              "def f():\n"
              "    import bayesquad.inference._map\n"
              "from bayesquad.quadrature._frozen import GaussLegendre\n"
              "from bayesquad.cli import main\n"
              "from bayesquad._tf import tf\n"
              "from bayesquad.diagnostics import _sbc\n"
              "from bayesquad.inference import sample\n"
              "from . import _verdict\n"
              "from .._cli_inputs import load_model_file\n"
              "import bayesquad\n")
    found = _check(source, "bayesquad.diagnostics._probe")
    assert sorted(name for _, name in found) == [
        "bayesquad._cli_inputs", "bayesquad.inference._map", "bayesquad.inference._model",
        "bayesquad.quadrature._frozen"]
    assert _private("bayesquad.quadrature._frozen._mapped_nodes") == \
        "bayesquad.quadrature._frozen._mapped_nodes"
    # upwards: a quadrature module importing inference (public or not)
    found = _check("from bayesquad.inference import sample\n", "bayesquad.quadrature._probe")
    assert list(found.values()) == ["bayesquad.quadrature._probe:1: layer 1 (quadrature) "
                                    "imports layer 3 (bayesquad.inference.sample)"]
