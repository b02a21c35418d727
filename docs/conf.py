"""Sphinx configuration of bayesquad's documentation site (``make docs``)."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

project = "bayesquad"
author = "the bayesquad developers"
import bayesquad  # noqa: E402

release = version = bayesquad.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.mathjax",
              "sphinx.ext.intersphinx", "numpydoc"]
autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
# TFP's Distribution base class brings dozens of inherited methods whose docstrings are
# TFP's business: list the classes' own documented API only
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
intersphinx_mapping = {}
templates_path = ["_templates"]
# TFP's base classes document their own methods; ours document what they add
autodoc_inherit_docstrings = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
html_title = f"bayesquad {release}"
suppress_warnings = []
nitpicky = False


def _example_pages():
    """One page per ``examples/*.py`` (its docstring's first line, then its source),
    written at build time so that a new example cannot be left out."""
    import ast  # pylint: disable=import-outside-toplevel
    out = os.path.join(os.path.dirname(__file__), "_generated", "examples")
    os.makedirs(out, exist_ok=True)
    src = os.path.join(ROOT, "examples")
    for name in sorted(os.listdir(src)):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        stem = name[:-3]
        with open(os.path.join(src, name), encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read())) or stem
        lead = doc.strip().split("\n\n")[0].replace("\n", " ")
        text = (f"{stem}\n{'=' * len(stem)}\n\n{lead}\n\n"
                f".. literalinclude:: ../../../examples/{name}\n   :language: python\n")
        with open(os.path.join(out, stem + ".rst"), "w", encoding="utf-8") as f:
            f.write(text)


_example_pages()
