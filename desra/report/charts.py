"""Inline SVG charts of the report pages (no plotting library): the heat maps' colour bar with the threshold, and
the artifact-area-vs-threshold plot."""
import html

from desra.report.views import heat_colors

#: Colours of the curves of the area-vs-threshold plot, in order.
CURVE_COLORS = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd')


def _hex(rgb):
    return '#{:02x}{:02x}{:02x}'.format(*(int(value) for value in rgb))


def _text(x, y, text, anchor='middle', extra=''):
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{html.escape(text)}</text>'


def colour_bar_svg(threshold, width=460, stops=11):
    """The colour bar of the contrast heat maps (:func:`desra.report.views.heat_colors`) with the threshold marked.

    Args:
        threshold (float): ``detector: threshold``; pixels of adjusted contrast below it are artifact candidates.
        width (int): Width of the bar in pixels.
        stops (int): Colour stops of the gradient (0, 1 / (stops - 1), ..., 1).

    Returns:
        str: An ``<svg class="colour-bar">`` element.
    """
    colors = heat_colors([k / (stops - 1) for k in range(stops)])
    gradient = ''.join(f'<stop offset="{k / (stops - 1):.3f}" stop-color="{_hex(color)}"/>'
                       for k, color in enumerate(colors))
    left, bar_top, bar_height = 10, 18, 16
    ticks = ''.join(f'<line x1="{left + value * width:.1f}" y1="{bar_top + bar_height}" '
                    f'x2="{left + value * width:.1f}" y2="{bar_top + bar_height + 4}" stroke="#333"/>'
                    + _text(left + value * width, bar_top + bar_height + 15, f'{value:g}')
                    for value in (0, 0.2, 0.4, 0.6, 0.8, 1))
    marker = ''
    if 0 <= threshold <= 1:
        x = left + threshold * width
        marker = (f'<line class="threshold" x1="{x:.1f}" y1="{bar_top - 4}" x2="{x:.1f}" '
                  f'y2="{bar_top + bar_height + 4}" stroke="#000" stroke-width="2.5"/>'
                  + _text(x - 4 if threshold > 0.5 else x + 4, bar_top - 6,
                          f'threshold {threshold:g}: adjusted below it = artifact candidate',
                          anchor='end' if threshold > 0.5 else 'start', extra=' font-weight="bold"'))
    return (f'<svg class="colour-bar" width="{width + 2 * left}" height="{bar_top + bar_height + 20}" '
            f'font-size="11" role="img"><defs><linearGradient id="heat-gradient">{gradient}</linearGradient></defs>'
            f'<rect x="{left}" y="{bar_top}" width="{width}" height="{bar_height}" fill="url(#heat-gradient)" '
            f'stroke="#333"/>{ticks}{marker}</svg>')


def threshold_plot_svg(thresholds, curves, threshold, marks=None, width=560, height=300):
    """Artifact area against the threshold: one curve per image set, the chosen threshold as a dashed line.

    Args:
        thresholds (list[float]): x values, increasing, in [0, 1].
        curves (dict[str, list[float]]): Label -> share of pixels (0..1) below each threshold.
        threshold (float): The run's ``detector: threshold``.
        marks (dict[str, float] | None): Label -> share of pixels in the final masks (after morphology), drawn as a
            dot at ``threshold`` on the curve's colour.
        width, height (int): Size of the SVG in pixels.

    Returns:
        str: An ``<svg class="threshold-plot">`` element; the y axis is in % of all pixels.
    """
    marks = marks or {}
    left, right, top, bottom = 52, 16, 14, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max([share for curve in curves.values() for share in curve] + list(marks.values()) + [1e-4]) * 100
    y_max = next(limit for limit in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if highest <= limit * 1.0001)

    def x_of(value):
        return left + value * plot_w

    def y_of(share):
        return top + plot_h - share * 100 / y_max * plot_h

    out = [f'<svg class="threshold-plot" width="{width}" height="{height}" font-size="11" role="img">',
           f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#999"/>']
    for k in range(6):
        x, y = x_of(k / 5), y_of(k / 5 * y_max / 100)
        out += [f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#eee"/>',
                _text(x, top + plot_h + 14, f'{k / 5:g}'),
                f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>',
                _text(left - 5, y + 4, f'{k / 5 * y_max:g}', anchor='end')]
    out += [_text(left + plot_w / 2, top + plot_h + 30, 'threshold on the adjusted contrast'),
            _text(12, top + plot_h / 2, '% of pixels below', extra=f' transform="rotate(-90 12 {top + plot_h / 2})"')]
    if 0 <= threshold <= 1:
        out.append(f'<line class="threshold" x1="{x_of(threshold):.1f}" y1="{top}" x2="{x_of(threshold):.1f}" '
                   f'y2="{top + plot_h}" stroke="#000" stroke-dasharray="4 3"/>')
    legend_x = left
    for (label, curve), color in zip(curves.items(), CURVE_COLORS):
        points = ' '.join(f'{x_of(x):.1f},{y_of(share):.1f}' for x, share in zip(thresholds, curve))
        out.append(f'<polyline class="curve" points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        if label in marks and 0 <= threshold <= 1:
            out.append(f'<circle class="final" cx="{x_of(threshold):.1f}" cy="{y_of(marks[label]):.1f}" r="4" '
                       f'fill="{color}" stroke="#000"/>')
        out += [f'<rect x="{legend_x}" y="{height - 16}" width="14" height="4" fill="{color}"/>',
                _text(legend_x + 18, height - 11, label, anchor='start')]
        legend_x += 30 + 7 * len(label)
    out.append('</svg>')
    return ''.join(out)
