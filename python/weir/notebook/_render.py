"""HTML of a live view: the rows table, the chart of numeric columns, the status line. Pure
functions of the rows (no widgets here), so that they can be tested and reused."""
import datetime
import html
import math
import numbers

from weir.common.types import Row

_MISSING = object()


def columns_of(row, names=None):
    """Column names for a row: the given names, a Row's or dict's field names, else c0, c1, ..."""
    if names:
        return list(names)
    if isinstance(row, dict):
        return [str(k) for k in row.keys()]
    fields = _row_fields(row)
    if fields:
        return list(fields)
    if is_sequence_row(row):
        return ["c%d" % i for i in range(len(row))]
    return ["value"]


def _row_fields(row):
    """The field names of a namedtuple or a named weir Row, else None."""
    if isinstance(row, (tuple, Row)):
        fields = getattr(row, "_fields", None)
        if isinstance(fields, (tuple, list)) and fields:
            return list(fields)
    return None


def is_sequence_row(row):
    return isinstance(row, (tuple, list, Row))


def cells_of(row, ncols):
    """The row's values as a list of `ncols` cells (missing ones empty)."""
    if isinstance(row, dict):
        vals = list(row.values())
    elif is_sequence_row(row):
        vals = list(row)
    else:
        vals = [row]
    if len(vals) < ncols:
        vals += [_MISSING] * (ncols - len(vals))
    return vals[:ncols] if ncols else vals


def is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def format_cell(v):
    if v is _MISSING:
        return ""
    if isinstance(v, float):
        return "%.6g" % v
    return str(v)


def table_html(columns, rows, caption=None):
    """An HTML table of `rows` (lists of cells), in the given order."""
    out = ['<table class="weir-live-table" style="border-collapse:collapse;font-family:monospace;font-size:12px">']
    if caption:
        out.append('<caption style="text-align:left;color:#555">%s</caption>' % html.escape(caption))
    out.append("<thead><tr>")
    for c in columns:
        out.append('<th style="border-bottom:1px solid #888;padding:2px 8px;text-align:left">%s</th>'
                   % html.escape(str(c)))
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>")
        for v in r:
            align = "right" if is_number(v) else "left"
            out.append('<td style="padding:1px 8px;text-align:%s">%s</td>' % (align, html.escape(format_cell(v))))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def bar_chart_svg(labels, values, width=480, bar_height=16, title=None):
    """A horizontal bar per label (keyed rows: the latest value of each key)."""
    pairs = [(str(l), float(v)) for l, v in zip(labels, values) if is_number(v)]
    if not pairs:
        return ""
    label_w = min(180, 8 + 7 * max(len(l) for l, _ in pairs))
    top = max(max(v for _, v in pairs), 0.0)
    low = min(min(v for _, v in pairs), 0.0)
    span = (top - low) or 1.0
    plot_w = width - label_w - 70
    height = len(pairs) * (bar_height + 4) + 24
    out = ['<svg class="weir-live-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'style="font-family:monospace;font-size:11px">' % (width, height)]
    if title:
        out.append('<text x="0" y="12" fill="#555">%s</text>' % html.escape(title))
    zero_x = label_w + plot_w * (0 - low) / span
    for i, (label, v) in enumerate(pairs):
        y = 20 + i * (bar_height + 4)
        x0 = label_w + plot_w * (min(v, 0) - low) / span
        w = max(1.0, plot_w * abs(v) / span)
        out.append('<text x="%d" y="%d" text-anchor="end" fill="#333">%s</text>'
                   % (label_w - 6, y + bar_height - 4, html.escape(label[:24])))
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>'
                   % (x0, y, w, bar_height, _COLORS[0]))
        out.append('<text x="%.1f" y="%d" fill="#333">%s</text>'
                   % (x0 + w + 4, y + bar_height - 4, html.escape(format_cell(v))))
    out.append('<line x1="%.1f" y1="18" x2="%.1f" y2="%d" stroke="#999"/>' % (zero_x, zero_x, height - 2))
    out.append("</svg>")
    return "".join(out)


def line_chart_svg(series, width=480, height=160, title=None):
    """One polyline per numeric column over the last rows (oldest left). `series` maps a column
    name to its values."""
    series = {k: [float(x) for x in v if is_number(x)] for k, v in series.items()}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return ""
    allv = [x for v in series.values() for x in v]
    lo, hi = min(allv), max(allv)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    left, right, top, bottom = 50, 10, 18, 16
    pw, ph = width - left - right, height - top - bottom
    out = ['<svg class="weir-live-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'style="font-family:monospace;font-size:11px">' % (width, height)]
    if title:
        out.append('<text x="0" y="12" fill="#555">%s</text>' % html.escape(title))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#ccc"/>' % (left, top, pw, ph))
    out.append('<text x="%d" y="%d" text-anchor="end" fill="#555">%s</text>' % (left - 4, top + 10, "%.4g" % hi))
    out.append('<text x="%d" y="%d" text-anchor="end" fill="#555">%s</text>' % (left - 4, top + ph, "%.4g" % lo))
    for i, (name, vals) in enumerate(series.items()):
        color = _COLORS[i % len(_COLORS)]
        n = len(vals)
        pts = []
        for j, v in enumerate(vals):
            x = left + (pw * j / (n - 1) if n > 1 else pw / 2)
            y = top + ph - ph * (v - lo) / (hi - lo)
            pts.append("%.1f,%.1f" % (x, y))
        out.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>' % (color, " ".join(pts)))
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (left + 4 + 90 * i, height - 3, color, html.escape(name)))
    out.append("</svg>")
    return "".join(out)


def format_watermark(ms):
    if ms is None:
        return "none yet"
    if ms >= 2 ** 63 - 1:
        return "end of input"
    try:
        t = datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc)
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    except (OverflowError, OSError, ValueError):
        return str(ms)


def status_html(state, rows, in_rate, out_rate, watermark, ui_url=None, error=None):
    color = {"RUNNING": "#2ca02c", "FINISHED": "#1f77b4", "CANCELED": "#888", "FAILED": "#d62728"}.get(state, "#555")
    parts = ['<div class="weir-live-status" style="font-family:monospace;font-size:12px">',
             '<b style="color:%s" class="weir-live-state">%s</b>' % (color, html.escape(state)),
             " &middot; %d rows" % rows,
             " &middot; in %.1f rec/s" % in_rate,
             " &middot; out %.1f rec/s" % out_rate,
             ' &middot; watermark <span title="%s">%s</span>' % (watermark, html.escape(format_watermark(watermark)))]
    if ui_url:
        parts.append(' &middot; <a href="%s" target="_blank">web UI</a>' % html.escape(ui_url, quote=True))
    if error:
        parts.append('<pre style="color:#d62728;white-space:pre-wrap">%s</pre>' % html.escape(error))
    parts.append("</div>")
    return "".join(parts)
