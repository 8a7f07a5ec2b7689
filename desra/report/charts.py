"""Inline SVG charts of the report pages (no plotting library): the colour bars of the heat maps (with the threshold)
and of the difference maps, and the artifact-area-vs-threshold plot."""
import html

from desra.report.views import DIFF_FULL_SCALE, DIFF_TICKS, diff_colors, diff_position, heat_colors

#: Colours of the curves of the area-vs-threshold plot, in order.
CURVE_COLORS = ('#1f77b4', '#d62728', '#2ca02c', '#9467bd')


def _hex(rgb):
    return '#{:02x}{:02x}{:02x}'.format(*(int(value) for value in rgb))


def _text(x, y, text, anchor='middle', extra=''):
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{html.escape(text)}</text>'


#: Height of the colour bars under the heat maps and difference maps (pixels; they are as wide as the picture).
SCALE_HEIGHT = 44


def _scale_symbol(symbol_id, gradient_colors, ticks, caption, marks=''):
    """A colour bar as an SVG ``<symbol>`` drawn in percent of its width (as wide as its picture, SCALE_HEIGHT
    high): the gradient (colours at evenly spaced positions 0..1), tick labels at (position, text) and a caption."""
    stops = ''.join(f'<stop offset="{k / (len(gradient_colors) - 1):.3f}" stop-color="{_hex(color)}"/>'
                    for k, color in enumerate(gradient_colors))

    def x_of(position):
        return f'{1 + 98 * position:.2f}%'

    labels = ''
    for position, label in ticks:
        anchor = 'start' if position == 0 else 'end' if position == 1 else 'middle'
        labels += (f'<line x1="{x_of(position)}" y1="15" x2="{x_of(position)}" y2="19" stroke="#333"/>'
                   f'<text x="{x_of(position)}" y="29" text-anchor="{anchor}">{html.escape(label)}</text>')
    return (f'<linearGradient id="{symbol_id}-colours">{stops}</linearGradient>'
            f'<symbol id="{symbol_id}" overflow="visible"><rect x="1%" y="3" width="98%" height="12" '
            f'fill="url(#{symbol_id}-colours)" stroke="#333"/>{labels}{marks}'
            f'<text x="1%" y="41">{html.escape(caption)}</text></symbol>')


def colour_scales_svg(threshold, stops=17):
    """The colour bars shown under every heat map and difference map of a page, defined once: an invisible
    ``<svg class="scales">`` holding the symbols ``scale-heat`` (:func:`desra.report.views.heat_colors`, the
    threshold marked) and ``scale-diff`` (:func:`desra.report.views.diff_colors` on the log scale of
    :func:`desra.report.views.diff_position`, ticks in 0..255 units), which the figures use
    (:class:`desra.report.html.Panel`'s ``scale``).

    Args:
        threshold (float): ``detector: threshold``; pixels of adjusted contrast below it are artifact candidates
            (no mark when it is outside [0, 1]).
        stops (int): Colour stops of each gradient.

    Returns:
        str: The ``<svg>`` element.
    """
    positions = [k / (stops - 1) for k in range(stops)]
    marker = ''
    caption = 'adjusted contrast: red = the GAN-SR texture departs from the MSE-SR one'
    if 0 <= threshold <= 1:
        x = f'{1 + 98 * threshold:.2f}%'
        marker = (f'<line class="threshold" x1="{x}" y1="0" x2="{x}" y2="19" stroke="#000" stroke-width="3"/>'
                  f'<line x1="{x}" y1="1" x2="{x}" y2="17" stroke="#fff" stroke-width="1"/>')
        caption = f'adjusted contrast; black mark: the threshold {threshold:g}, below it = artifact candidate'
    heat = _scale_symbol('scale-heat', heat_colors(positions), [(value, f'{value:g}') for value in
                                                                (0, 0.2, 0.4, 0.6, 0.8, 1)], caption, marker)
    diff_ticks = [(float(diff_position(value)), f'{value}+' if value == DIFF_FULL_SCALE else f'{value}')
                  for value in DIFF_TICKS]
    diff = _scale_symbol('scale-diff', diff_colors(positions), diff_ticks,
                         '|difference|, mean over R, G, B, in 0..255 units (log scale)')
    return ('<svg class="scales" width="0" height="0" aria-hidden="true" style="position:absolute">'
            f'<defs>{heat}{diff}</defs></svg>')


def threshold_plot_svg(thresholds, curves, threshold, marks=None, width=560, height=300):
    """Artifact area against the threshold: one curve per image set, the chosen threshold as a dashed line. A curve
    that a later one covers (less than a pixel apart everywhere) is drawn wider and lighter underneath, and the
    legend says that they coincide.

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
    drawn = list(zip(curves.items(), CURVE_COLORS))
    pixel_curves = [[y_of(share) for share in curve] for (_, curve), _ in drawn]
    # a curve that a later one would hide (within a pixel everywhere) is drawn wider and lighter underneath it
    hidden_by = {}
    for later in range(len(drawn)):
        for earlier in range(later):
            if earlier not in hidden_by and len(pixel_curves[earlier]) == len(pixel_curves[later]) and all(
                    abs(a - b) < 1 for a, b in zip(pixel_curves[earlier], pixel_curves[later])):
                hidden_by[earlier] = later
    legend_x = left
    for index, ((label, curve), color) in enumerate(drawn):
        wide = index in hidden_by
        style = f'stroke-width="{7 if wide else 2}"' + (' stroke-opacity="0.45"' if wide else '')
        points = ' '.join(f'{x_of(x):.1f},{y_of(share):.1f}' for x, share in zip(thresholds, curve))
        out.append(f'<polyline class="curve" points="{points}" fill="none" stroke="{color}" {style}/>')
        if label in marks and 0 <= threshold <= 1:
            out.append(f'<circle class="final" cx="{x_of(threshold):.1f}" cy="{y_of(marks[label]):.1f}" '
                       f'r="{7 if wide else 4}" fill="{color}" stroke="#000"/>')
        hides = [drawn[earlier][0][0] for earlier, later in hidden_by.items() if later == index]
        text = label + (f' (coincides with {", ".join(hides)})' if hides else '')
        swatch = f'y="{height - 18}" height="8" fill-opacity="0.45"' if wide else f'y="{height - 16}" height="4"'
        out += [f'<rect x="{legend_x}" {swatch} width="14" fill="{color}"/>',
                _text(legend_x + 18, height - 11, text, anchor='start')]
        legend_x += 30 + 7 * len(text)
    out.append('</svg>')
    return ''.join(out)
