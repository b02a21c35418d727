"""Small HTML helpers: escaped text, number formatting, tables and embedded images."""
import base64
import html
import io
import math
import numbers

import numpy as np

__all__ = ["esc", "fmt", "table", "kv_table", "figure_html", "figure_to_data_uri", "note",
           "new_figure", "param_elements"]


def esc(text):
    """``text`` as HTML-escaped string (quotes included, so safe inside attributes)."""
    return html.escape(str(text), quote=True)


def fmt(x, digits=4, strip=False):
    """A number with ``digits`` significant figures, without an exponent in [1e-3, 1e6).

    Integers stay integers, NaN/None show as an em dash, booleans as yes/no, anything else
    as its escaped ``str``.  ``strip`` drops trailing zeros (``0.01`` not ``0.01000``),
    for single values; tables of numbers keep them so that columns line up.
    """
    if x is None:
        return "&mdash;"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        return esc(int(x))
    if isinstance(x, numbers.Real):
        x = float(x)
        if math.isnan(x):
            return "&mdash;"
        if math.isinf(x):
            return "&infin;" if x > 0 else "&minus;&infin;"
        if x == 0:
            return "0"
        mag = math.floor(math.log10(abs(x)))
        if -3 <= mag < 6:
            decimals = max(0, digits - 1 - mag)
            text = f"{x:.{decimals}f}"
            if strip and "." in text:
                text = text.rstrip("0").rstrip(".")
            return esc(text)
        mant, exp = f"{x:.{digits - 1}e}".split("e")
        if strip and "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        return esc(f"{mant}e{exp}")
    if isinstance(x, (list, tuple, np.ndarray)):
        values = list(np.ravel(np.asarray(x, dtype=object)))
        if len(values) == 1 and np.ndim(x) <= 1:
            return fmt(values[0], digits, strip)
        shown = ", ".join(fmt(v, digits, strip) for v in values[:20])
        return f"[{shown}{', &hellip;' if len(values) > 20 else ''}]"
    return esc(x)


def table(header, rows, *, cls="data", raw_cols=()):
    """An HTML table; cells are formatted with :func:`fmt` except columns in ``raw_cols``,
    which must already be safe HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = cell if i in raw_cols else fmt(cell)
            num = " class=\"num\"" if (i not in raw_cols and isinstance(cell, numbers.Number)
                                       and not isinstance(cell, bool)) else ""
            cells.append(f"<td{num}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table class=\"{cls}\"><thead><tr>{head}</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def kv_table(pairs):
    """Two-column key/value table (keys escaped, values via :func:`fmt`)."""
    rows = "".join(f"<tr><th scope=\"row\">{esc(k)}</th><td>{fmt(v, strip=True)}</td></tr>"
                   for k, v in pairs)
    return f"<table class=\"kv\"><tbody>{rows}</tbody></table>"


def note(text, kind="info"):
    """A paragraph explaining why a part is absent or what a result means (escaped)."""
    return f"<p class=\"note {esc(kind)}\">{esc(text)}</p>"


def new_figure(width, height):
    """A matplotlib Figure on the Agg canvas, outside pyplot (no global state touched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_to_data_uri(fig):
    """PNG ``data:`` URI of ``fig`` (no metadata: the PNG then names no web address)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure_html(fig, alt, caption=None):
    """``<figure>`` with ``fig`` embedded as a base64 PNG."""
    uri = figure_to_data_uri(fig)
    width, height = (int(round(v * 100)) for v in fig.get_size_inches())
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (f"<figure><img src=\"{uri}\" alt=\"{esc(alt)}\" width=\"{width}\" "
            f"height=\"{height}\">{cap}</figure>")


def param_elements(posterior, max_per_var=3, max_total=None):
    """``[(label, var, index)]`` of scalar elements to plot, scalars first.

    Vector-valued variables contribute their first ``max_per_var`` elements; ``index`` is a
    tuple into the variable's non-sample dimensions.
    """
    scalars, vectors = [], []
    for name in posterior.data_vars:
        shape = posterior[name].shape[2:]
        if not shape:
            scalars.append((str(name), name, ()))
            continue
        for k, idx in enumerate(np.ndindex(*shape)):
            if k >= max_per_var:
                break
            vectors.append((f"{name}[{', '.join(map(str, idx))}]", name, idx))
    out = scalars + vectors
    return out if max_total is None else out[:max_total]
