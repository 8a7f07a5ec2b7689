"""Write a run's report: ``index.html`` (and ``page-2.html``, ...): warnings, the run's summary, then one row per
image, worst first: its figures, its pictures in a grid (two a line at usual window widths, each at least
:data:`MIN_PANEL_WIDTH` pixels wide; heat maps and difference maps with their colour bar; before / after comparison
sliders), and a card per artifact part with its crops side by side, which opens an opaque zoom of the part (every
crop, the LR one included, and a slider).

The pages are static HTML + CSS (:mod:`desra.report.assets`) with pictures referenced by paths relative to them, so
the run folder can be opened offline, copied or zipped. Zooming uses the CSS ``:target`` selector; a few lines of
script move the sliders (``<input type="range">``, so the keyboard works too) and close a zoom on Esc. Pictures
load lazily (``loading="lazy"``, with their size given so the page does not jump) and the rows are split into pages
of ``rows_per_page``, so a run of 10,000 images opens as fast as one of 50.

A short script reports pictures that failed to load at the top of the page (``#load-status``). Opened with
``?check`` (``index.html?check``) it loads every picture the page shows or links to at once and leaves markers on
``<body>`` for automated checks: ``data-ready="1"`` once the page loaded, ``data-images-loaded`` /
``data-images-broken`` (counts of distinct pictures), ``data-errors`` (script errors, if any), ``data-width`` (the
window's inner width), ``data-panels`` and ``data-narrowest-panel`` (the image rows' pictures and the width in
pixels of the narrowest), ``data-upscaled-panels`` (pictures shown larger than their file) and
``data-colour-bars`` (colour bars drawn under their picture, as wide as it).
"""
import glob
import html
import math
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union
from urllib.parse import quote

from desra.io.images import write_text
from desra.report.assets import PAGE_SCRIPT, STYLE, WATCH_SCRIPT
from desra.report.palette import ADE20K_PALETTE
from desra.report.parts import SEVERITY_DEFINITION

#: Image rows per page, unless ``report: rows_per_page`` says otherwise.
DEFAULT_ROWS_PER_PAGE = 50
#: Classes listed in the legend of an image row (the largest ones).
LEGEND_CLASSES = 12
#: Smallest width of a picture of an image row (pixels); smaller pictures are enlarged to it without smoothing.
MIN_PANEL_WIDTH = 320
#: Smallest width of a crop on a part's card (pixels): crops are enlarged by the smallest whole factor reaching it.
CROP_DISPLAY = 256


class Html(str):
    """Text that is already HTML: put on the page as it is (other text is escaped)."""


def _text(value):
    return value if isinstance(value, Html) else html.escape(value)


@dataclass
class Panel:
    """A picture with a title.

    Attributes:
        title (str): Shown under the picture.
        src (str): Path of the full-size PNG relative to the page, POSIX separators (opened on click).
        thumb (str | None): Path of the thumbnail shown on the page; None: ``src``.
        size (tuple[int, int] | None): (width, height) in pixels of the picture shown (the thumbnail), when known:
            reserves its place on the page before it loads, and the panel is never wider than it (unless it is
            narrower than :data:`MIN_PANEL_WIDTH`).
        scale (str | None): The colour bar drawn under the picture: ``'heat'`` or ``'diff'`` (the symbols of
            :func:`desra.report.charts.colour_scales_svg`, which the page must hold); None: none.
    """
    title: str
    src: str
    thumb: Optional[str] = None
    size: Optional[Tuple[int, int]] = None
    scale: Optional[str] = None


@dataclass
class Comparison:
    """Two pictures of one scene, of one size, under a slider: ``before`` is shown left of the handle, ``after``
    right of it.

    Attributes:
        title (str): Shown under the slider.
        before, after (Panel): The pictures; their titles label the two sides.
    """
    title: str
    before: Panel
    after: Panel


@dataclass
class PartView:
    """An artifact part: its figures and crops of one window in several images.

    Attributes:
        label (str): e.g. ``'part 1'``.
        severity (float): See :data:`desra.report.parts.SEVERITY_DEFINITION`.
        facts (list[tuple[str, str]]): Figures shown with the part (area, box, ...).
        crops (list[Panel]): The crops (before / after / MSE-SR / LR); the first ``shown`` are side by side on its
            card, all of them in its zoom.
        strength (float | None): Its two factors of the severity: strength (0..1) ...
        share (float | None): ... and share of the image (0..1).
        compare (Comparison | None): The slider of its zoom (plain crops).
        note (str): How the crop window frames the part.
        shown (int): Crops on its card.
    """
    label: str
    severity: float
    facts: List[Tuple[str, str]]
    crops: List[Panel]
    strength: Optional[float] = None
    share: Optional[float] = None
    compare: Optional[Comparison] = None
    note: str = ''
    shown: int = 2


@dataclass
class ReportRow:
    """One image of the run.

    Attributes:
        name (str): The image's name.
        severity (float): Sort key of the row (worst first): the sum of its parts' severities.
        facts (list[tuple[str, str]]): Figures shown under the name (keys and values may be :class:`Html`).
        panels (list[Panel | Comparison]): Pictures (overlays, heat maps, sliders, LR, MSE-SR, ...), in a grid of
            two columns: pictures to compare go in pairs.
        parts (list[PartView]): Its artifact parts, worst first.
        classes (list[dict]): The segmentation classes of the image (``index``, ``name``, ``pixels``, most pixels
            first, :func:`desra.report.figures.class_figures`), for the legend of its class map; empty: none.
    """
    name: str
    severity: float
    facts: List[Tuple[str, str]]
    panels: List[Union[Panel, Comparison]]
    parts: List[PartView] = field(default_factory=list)
    classes: List[dict] = field(default_factory=list)


#: The word "severity", linked to its definition (shown on every page).
SEVERITY_LINK = Html('<a class="def" href="#severity-definition">severity</a>')


def severity_percent(severity):
    """A severity (0..1) as text in percent of the image, e.g. ``'0.877 %'``."""
    return format_figure(None if severity is None else 100 * severity, '{:.3g} %')


def severity_fact(severity, after=None):
    """The (key, value) fact of an image's severity (the sum over its parts), linked to its definition; with
    ``after``: the fine-tuned result's beside it."""
    value = f'<b>{severity_percent(severity)}</b> of the image (its parts summed)'
    if after is not None:
        value = f'<b>{severity_percent(severity)}</b> &rarr; <b>{severity_percent(after)}</b> after fine-tuning'
    return SEVERITY_LINK, Html(value)


def part_severity(part):
    """The severity of a :class:`PartView` in words: ``severity 0.877 % = strength 0.31 x 2.83 % of the image``."""
    text = f'{SEVERITY_LINK} <b>{severity_percent(part.severity)}</b>'
    if part.strength is not None and part.share is not None:
        text += f' = strength {part.strength:.2f} &times; {100 * part.share:.3g} % of the image'
    return Html(text)


def format_value(value):
    """Text of a figure: floats with 4 significant digits, ``n/a`` for NaN/None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.4g}'
    return str(value)


def format_figure(value, fmt):
    """``fmt.format(value)`` (e.g. ``'{:.2f} %'``); ``n/a`` for None / NaN, :func:`format_value` when the format
    does not fit the value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return format_value(value)


def summary_table(summary, fields, columns=None):
    """A compact table of run-level figures.

    Args:
        summary (dict): The figures by key.
        fields (list[tuple[str, str | tuple[str, ...], str]]): Rows in order: (label, key, format), the format as
            for ``str.format`` (``'{:.3f}'``, ``'{} px'``). A key may be a tuple of keys, one per column (e.g.
            before / after); a single key spans all columns. Rows whose keys are all missing from ``summary`` are
            left out; a missing key of a tuple leaves its cell empty.
        columns (list[str] | None): Column titles (for tuple keys); None: no header.

    Returns:
        str: A ``<table class="summary">`` element.
    """
    span = len(columns) if columns else 1
    lines = []
    if columns:
        lines.append('<tr><th></th>' + ''.join(f'<th>{html.escape(title)}</th>' for title in columns) + '</tr>')
    for label, keys, fmt in fields:
        keys_tuple = keys if isinstance(keys, tuple) else (keys,)
        if not any(key in summary for key in keys_tuple):
            continue
        if isinstance(keys, tuple):
            cells = ''.join(f'<td>{html.escape(format_figure(summary[key], fmt)) if key in summary else ""}</td>'
                            for key in keys)
        else:
            cells = f'<td colspan="{span}">{html.escape(format_figure(summary[keys], fmt))}</td>'
        lines.append(f'<tr><th>{html.escape(label)}</th>{cells}</tr>')
    return '<table class="summary">' + ''.join(lines) + '</table>'


def _swatch(index):
    color = '#{:02x}{:02x}{:02x}'.format(*ADE20K_PALETTE[index]) if 0 <= index < len(ADE20K_PALETTE) else '#000'
    return f'<span class="swatch" style="background:{color}"></span>'


#: Rows of the per-class table shown unfolded (classes with the most artifact pixels).
MAX_CLASS_ROWS = 15


def class_table(totals, titles):
    """Artifact area per segmentation class, classes with artifact pixels only, most first; after
    :data:`MAX_CLASS_ROWS` rows the rest are folded under a ``<details>`` element.

    Args:
        totals (list[list[dict]]): Per column group (e.g. before / after), the per-class sums of
            :func:`desra.report.figures.total_class_figures`.
        titles (list[str]): Title of each column group.

    Returns:
        str: A ``<table class="summary classes-table">`` element, and the folded rest ('' when no class holds
        artifact pixels).
    """
    by_index = [{total['index']: total for total in group} for group in totals]
    all_artifact_pixels = [sum(total['artifact_pixels'] for total in group) for group in totals]
    order = []
    for group in totals:
        order += [total['index'] for total in group if total['artifact_pixels'] > 0 and total['index'] not in order]
    if not order:
        return ''
    header = ('<tr><th rowspan="2">class</th>'
              + ''.join(f'<th colspan="4">{html.escape(title)}</th>' for title in titles) + '</tr><tr>'
              + ('<th>artifact px</th><th>% of artifacts</th><th>% of the class</th>'
                 '<th>images with artifacts / with the class</th>') * len(titles)
              + '</tr>')
    lines = []
    for index in order:
        name = next(group[index]['name'] for group in by_index if index in group)
        cells = ''
        for group, total_pixels in zip(by_index, all_artifact_pixels):
            total = group.get(index)
            if total is None:
                cells += '<td></td>' * 4
                continue
            cells += (f'<td>{total["artifact_pixels"]}</td>'
                      f'<td>{format_figure(100 * total["artifact_pixels"] / (total_pixels or 1), "{:.1f}")}</td>'
                      f'<td>{format_figure(100 * total["artifact_pixels"] / total["pixels"], "{:.1f}")}</td>'
                      f'<td>{total["images_with_artifacts"]} / {total["images"]}</td>')
        lines.append(f'<tr><th>{_swatch(index)}{html.escape(name)}</th>{cells}</tr>')
    table = '<table class="summary classes-table">' + header + ''.join(lines[:MAX_CLASS_ROWS]) + '</table>'
    if len(lines) > MAX_CLASS_ROWS:  # up to 150 ADE20K classes: the rest folded, as a second table
        table += (f'<details><summary>{len(lines) - MAX_CLASS_ROWS} more classes</summary>'
                  '<table class="summary classes-table">' + header + ''.join(lines[MAX_CLASS_ROWS:]) + '</table>'
                  '</details>')
    return table


def _facts(facts):
    return ' '.join(f'<span>{_text(key)}: '
                    + (value if isinstance(value, Html) else f'<b>{html.escape(format_value(value))}</b>') + '</span>'
                    for key, value in facts)


def _url(path):
    """An attribute value for a relative file path: percent-encoded (``#``, ``?``, ``%`` and spaces in file names
    stay part of the path) and HTML-escaped."""
    return html.escape(quote(path))


def _img(panel, src, extra=''):
    size = f' width="{panel.size[0]}" height="{panel.size[1]}"' if panel.size else ''
    return f'<img{extra} src="{_url(src)}" loading="lazy"{size} alt="{html.escape(panel.title)}">'


def _panel_style(panel):
    """The figure's attributes: never wider than its picture (plus the border), unless narrower than
    MIN_PANEL_WIDTH, then enlarged without smoothing."""
    if not panel.size:
        return ''
    width = panel.size[0] + 2
    return f' class="up" style="max-width:{MIN_PANEL_WIDTH}px"' if width < MIN_PANEL_WIDTH \
        else f' style="max-width:{width}px"'


def _colour_bar(panel):
    return f'<svg class="colour-bar" role="img" aria-label="colour scale"><use href="#scale-{panel.scale}"/></svg>' \
        if panel.scale else ''


def _figure(panel):
    """A picture of an image row: its thumbnail linked to the full-size picture, its colour bar, its title."""
    img = f'<a class="picture" href="{_url(panel.src)}">{_img(panel, panel.thumb or panel.src)}</a>'
    return f'<figure{_panel_style(panel)}>{img}{_colour_bar(panel)}<figcaption>{html.escape(panel.title)}' \
           '</figcaption></figure>'


def _slider(comparison, zoomed=False):
    """A comparison slider: ``after`` below, ``before`` on top clipped to the handle's left (the page's thumbnails,
    with links to both pictures; ``zoomed``: the pictures themselves, in a part's zoom)."""
    before, after = comparison.before, comparison.after
    source = (lambda panel: panel.src) if zoomed else (lambda panel: panel.thumb or panel.src)
    label = f'{before.title} | {after.title}'
    links = '' if zoomed else (f' (left | right; drag, or the arrow keys; full size: <a class="picture" '
                               f'href="{_url(before.src)}">left</a>, <a class="picture" href="{_url(after.src)}">'
                               'right</a>)')
    top = _img(before, source(before), ' class="top"')
    return (f'<figure class="compare"{"" if zoomed else _panel_style(before)}><div class="slider">'
            f'{_img(after, source(after))}{top}'
            f'<span class="tag l">{html.escape(before.title)}</span><span class="tag r">{html.escape(after.title)}'
            f'</span><input type="range" min="0" max="100" value="50" aria-label="{html.escape(label)}"></div>'
            f'<figcaption>{html.escape(comparison.title)}{links}</figcaption></figure>')


def _picture(item):
    return _slider(item) if isinstance(item, Comparison) else _figure(item)


def _crop_figure(crop, href=None):
    """A crop as it is, on a part's card (``href``: its zoom; enlarged by a whole factor to at least CROP_DISPLAY
    pixels) or in the zoom."""
    img = _img(crop, crop.src)
    if href is None:
        return f'<figure>{img}<figcaption>{html.escape(crop.title)}</figcaption></figure>'
    style = ''
    if crop.size:
        style = f' style="width:{crop.size[0] * math.ceil(CROP_DISPLAY / crop.size[0])}px"'
    return f'<figure{style}><a href="{href}">{img}</a><figcaption>{html.escape(crop.title)}</figcaption></figure>'


def _part_card(zoom, part):
    facts = f'<p class="facts">{_facts(part.facts)}</p>' if part.facts else ''
    note = f'{html.escape(part.note)}; ' if part.note else ''
    return (f'<div class="part"><h3><a href="#{zoom}">{html.escape(part.label)}</a>: {part_severity(part)}</h3>'
            '<div class="pair">' + ''.join(_crop_figure(crop, f'#{zoom}') for crop in part.crops[:part.shown])
            + f'</div>{facts}<p class="facts">Crops: {note}<a href="#{zoom}">zoom</a></p></div>')


def _zoom(zoom, anchor, name, part):
    title = f'{name}: {part.label}'
    crops = [_crop_figure(crop) for crop in part.crops]
    if part.compare:
        crops.insert(0, _slider(part.compare, zoomed=True))
    return (f'<div class="zoom" id="{zoom}" role="dialog" aria-label="{html.escape(title)}">'
            f'<a class="close" href="#{anchor}" title="close (Esc)">&times;</a><h2>{html.escape(title)}</h2>'
            f'<p class="facts"><span>{part_severity(part)}</span> {_facts(part.facts)}</p>'
            + (f'<p class="note">{html.escape(part.note)}</p>' if part.note else '')
            + '<div class="crops">' + ''.join(crops) + '</div></div>')


def _percent(part, total):
    """``part / total`` in whole percent, ``<1 %`` for a non-zero share that rounds to 0."""
    share = 100 * part / total
    return '<1 %' if 0 < share < 0.5 else f'{share:.0f} %'


def _class_legend(classes):
    total = sum(figure['pixels'] for figure in classes) or 1
    shown = classes[:LEGEND_CLASSES]
    items = [f'<span>{_swatch(figure["index"])}{html.escape(figure["name"])} {_percent(figure["pixels"], total)}</span>'
             for figure in shown]
    if len(classes) > len(shown):
        items.append(f'<span>+ {len(classes) - len(shown)} smaller classes</span>')
    return '<div class="classes">' + ''.join(items) + '</div>'


def _row(index, row):
    anchor = f'img-{index}'
    out = [f'<article id="{anchor}">', f'<h2>{html.escape(row.name)}</h2>', f'<p class="facts">{_facts(row.facts)}</p>',
           '<div class="panels">', *(_picture(panel) for panel in row.panels), '</div>']
    if row.classes:
        out.append(_class_legend(row.classes))
    if row.parts:
        zooms = [f'zoom-{index}-{part_index}' for part_index in range(1, len(row.parts) + 1)]
        out += ['<div class="parts">', *(_part_card(zoom, part) for zoom, part in zip(zooms, row.parts)), '</div>']
        out += [_zoom(zoom, anchor, row.name, part) for zoom, part in zip(zooms, row.parts)]
    out.append('</article>')
    return '\n'.join(out)


def page_name(number):
    """File name of page ``number`` (from 1): ``index.html``, ``page-2.html``, ..."""
    return 'index.html' if number == 1 else f'page-{number}.html'


def _navigation(number, count, first_row, rows_on_page, total_rows):
    if count <= 1:
        return ''
    near = sorted({1, count, *range(max(1, number - 3), min(count, number + 3) + 1)})
    links, previous = [], 0
    for other in near:
        if other > previous + 1:
            links.append('<span>...</span>')
        links.append(f'<b>{other}</b>' if other == number else f'<a href="{page_name(other)}">{other}</a>')
        previous = other
    if number > 1:
        links.insert(0, f'<a href="{page_name(number - 1)}" rel="prev">&laquo; previous</a>')
    if number < count:
        links.append(f'<a href="{page_name(number + 1)}" rel="next">next &raquo;</a>')
    return (f'<nav class="pages">Images {first_row}-{first_row + rows_on_page - 1} of {total_rows} (worst first), '
            f'page {number} of {count}: ' + ' '.join(links) + '</nav>')


#: The severity definition, on every page (opened by any "severity" link).
SEVERITY_POPUP = ('<div class="zoom popup" id="severity-definition" role="dialog" aria-label="severity">'
                  '<a class="close back" href="#" title="close (Esc)">&times;</a><h2>Severity</h2>'
                  f'<p>{html.escape(SEVERITY_DEFINITION)}</p></div>')


def render_pages(title, rows, header=(), scales='', notes=(), failures=(), warnings=(),
                 rows_per_page=DEFAULT_ROWS_PER_PAGE):
    """The HTML text of a report's pages.

    Args:
        title (str): Page title.
        rows (list[ReportRow]): Images; shown by decreasing severity (ties by name), ``rows_per_page`` a page.
        header (list[tuple[str, str]]): (heading, HTML) blocks shown on the first page: summary table, plots, ...
        scales (str): HTML put on every page: the colour bars' symbols that panels with a ``scale`` use
            (:func:`desra.report.charts.colour_scales_svg`).
        notes (list[str]): Paragraphs explaining the pictures (plain text); the severity definition is added.
        failures (list[Failure]): Images that were skipped, shown with their messages on the first page.
        warnings (list[str]): Sentences shown prominently at the top of every page (misuse, nothing removed).
        rows_per_page (int): Image rows per page (>= 1).

    Returns:
        list[tuple[str, str]]: (file name, HTML text) of each page, the first ``index.html``.
    """
    rows = sorted(rows, key=lambda row: (-row.severity, row.name))
    count = max(1, math.ceil(len(rows) / rows_per_page))
    warning_block = ('<div class="warnings" role="alert">' + ''.join(
        f'<p><b>Warning:</b> {html.escape(warning)}</p>' for warning in warnings) + '</div>') if warnings else ''
    pages = []
    for number in range(1, count + 1):
        first = (number - 1) * rows_per_page
        page_rows = rows[first:first + rows_per_page]
        heading = title if number == 1 else f'{title} (page {number})'
        parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
                 '<meta name="viewport" content="width=device-width, initial-scale=1">',
                 f'<title>{html.escape(heading)}</title><style>{STYLE}</style><script>{WATCH_SCRIPT}</script>'
                 '</head><body>', f'<h1>{html.escape(heading)}</h1>', warning_block, '<p id="load-status"></p>']
        if number == 1:
            if header:
                parts.append('<section class="head">' + ''.join(
                    f'<div><h3>{html.escape(block_title)}</h3>{block}</div>' for block_title, block in header)
                    + '</section>')
            parts.append('<details><summary>How to read this page</summary>'
                         + ''.join(f'<p>{html.escape(note)}</p>' for note in [*notes, SEVERITY_DEFINITION])
                         + '<p>Click a picture to open it at full size; drag a slider (or focus it and use the '
                         'arrow keys) to compare two results, the left one shown left of the handle; click a part to '
                         'open its zoom (Esc closes it): all its crops, the LR one too, and a slider. Crops show a '
                         'square window of 1:1 pixels, enlarged without smoothing.</p>'
                         '</details>')
            if failures:
                parts.append(f'<h2>{len(failures)} image(s) skipped</h2><ul class="failures">'
                             + ''.join(f'<li>{html.escape(str(failure))}</li>' for failure in failures) + '</ul>')
        navigation = _navigation(number, count, first + 1, len(page_rows), len(rows))
        parts += [scales, SEVERITY_POPUP, navigation]
        parts += [_row(index, row) for index, row in enumerate(page_rows, first + 1)]
        parts += [navigation, f'<script>{PAGE_SCRIPT}</script>', '</body></html>']
        pages.append((page_name(number), '\n'.join(parts) + '\n'))
    return pages


def render_report(title, rows, **kwargs):
    """The HTML text of the first page (:func:`render_pages`, same arguments)."""
    return render_pages(title, rows, **kwargs)[0][1]


def write_report(path, title, rows, **kwargs):
    """Write the pages of :func:`render_pages` (keyword arguments as there) atomically: ``path`` (the first page,
    ``index.html``) and ``page-<n>.html`` beside it; pages left from an earlier, longer run are removed.

    Returns:
        list[str]: The paths written.
    """
    folder = os.path.dirname(path)
    written = []
    for name, text in render_pages(title, rows, **kwargs):
        page_path = path if name == 'index.html' else os.path.join(folder, name)
        write_text(page_path, text)
        written.append(page_path)
    for stale in glob.glob(os.path.join(glob.escape(folder), 'page-*.html')):
        if re.fullmatch(r'page-\d+\.html', os.path.basename(stale)) and stale not in written:
            os.remove(stale)
    return written
