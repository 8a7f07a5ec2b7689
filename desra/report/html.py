"""Write a run's report: ``index.html`` (and ``page-2.html``, ...): the run's summary, then one row per image, worst
first, with thumbnails that open the full-size PNG and click-to-zoom crops of every artifact part.

The pages are static HTML + CSS with pictures referenced by paths relative to them, so the run folder can be opened
offline, copied or zipped. Zooming uses the CSS ``:target`` selector (no JavaScript needed). Pictures load lazily
(``loading="lazy"``, with their size given so the page does not jump) and the rows are split into pages of
``rows_per_page``, so a run of 10,000 images opens as fast as one of 50.

A short script reports pictures that failed to load at the top of the page (``#load-status``). Opened with
``?check`` (``index.html?check``) it loads every picture the page shows or links to at once and leaves markers on
``<body>`` for automated checks: ``data-ready="1"`` once the page loaded, ``data-images-loaded`` /
``data-images-broken`` (counts of distinct pictures), ``data-errors`` (script errors, if any), ``data-width`` (the
window's inner width) and ``data-wrapped-rows`` (image rows whose panels do not sit on one line).
"""
import glob
import html
import math
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple
from urllib.parse import quote

from desra.report.palette import ADE20K_PALETTE
from desra.report.parts import SEVERITY_DEFINITION
from desra.utils.img_io import write_text

#: Image rows per page, unless ``report: rows_per_page`` says otherwise.
DEFAULT_ROWS_PER_PAGE = 50
#: Classes listed in the legend of an image row (the largest ones).
LEGEND_CLASSES = 12


@dataclass
class Panel:
    """A picture with a title.

    Attributes:
        title (str): Shown under the picture.
        src (str): Path of the full-size PNG relative to the page, POSIX separators (opened on click).
        thumb (str | None): Path of the thumbnail shown on the page; None: ``src``.
        size (tuple[int, int] | None): (width, height) of the picture in pixels, when known: reserves its place on
            the page before it loads.
    """
    title: str
    src: str
    thumb: Optional[str] = None
    size: Optional[Tuple[int, int]] = None


@dataclass
class PartView:
    """An artifact part: its figures and crops of one window in several images.

    Attributes:
        label (str): e.g. ``'part 1'``.
        severity (float): See :data:`desra.report.parts.SEVERITY_DEFINITION`.
        facts (list[tuple[str, str]]): Figures shown with the part (area, strength, ...).
        crops (list[Panel]): Side-by-side crops (before / after / MSE-SR); the first is the thumbnail.
    """
    label: str
    severity: float
    facts: List[Tuple[str, str]]
    crops: List[Panel]


@dataclass
class ReportRow:
    """One image of the run.

    Attributes:
        name (str): The image's name.
        severity (float): Sort key of the row (worst first): the sum of its parts' severities.
        facts (list[tuple[str, str]]): Figures shown under the name.
        panels (list[Panel]): Pictures (LR, MSE-SR, GAN-SR with mask, heat map, ...), shown on one line.
        parts (list[PartView]): Its artifact parts, worst first.
        classes (list[dict]): The segmentation classes of the image (``index``, ``name``, ``pixels``, most pixels
            first, :func:`desra.report.figures.class_figures`), for the legend of its class map; empty: none.
    """
    name: str
    severity: float
    facts: List[Tuple[str, str]]
    panels: List[Panel]
    parts: List[PartView] = field(default_factory=list)
    classes: List[dict] = field(default_factory=list)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { margin-bottom: .2em; }
#load-status { font-weight: bold; }
#load-status.bad { color: #b00020; }
nav.pages { margin: .8em 0; }
nav.pages a, nav.pages b { margin-right: .5em; }
section.head { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; margin-bottom: 1em; }
section.head > div { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; }
section.head h3 { margin: .2em 0 .5em 0; font-size: 1em; }
table.summary { border-collapse: collapse; }
table.summary td, table.summary th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
table.summary td { text-align: right; font-variant-numeric: tabular-nums; }
.legend-note { font-size: .85em; color: #555; max-width: 36em; margin: .2em 0; }
article { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1em; margin: 1.2em 0; }
article h2 { margin: 0 0 .3em 0; font-size: 1.15em; }
.facts { color: #555; margin: .2em 0 .8em 0; }
.facts span { margin-right: 1.2em; white-space: nowrap; }
.panels { display: flex; gap: .6em; overflow-x: auto; align-items: flex-start; }
.panels figure { flex: 1 1 0; min-width: 120px; max-width: 420px; }
figure { margin: 0; }
figure img { width: 100%; height: auto; display: block; box-sizing: border-box; border: 1px solid #ccc;
             background: #000; }
figcaption { font-size: .85em; color: #444; margin-top: .2em; }
.classes { display: flex; flex-wrap: wrap; gap: .2em 1em; font-size: .8em; color: #444; margin-top: .5em; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #888; vertical-align: -.1em;
          margin-right: .3em; }
.parts { display: flex; flex-wrap: wrap; gap: .8em; margin-top: 1em; }
a.part { display: block; width: 150px; text-decoration: none; color: #222; font-size: .8em; }
a.part img { width: 150px; height: 150px; object-fit: contain; background: #000; image-rendering: pixelated; }
.zoom { display: none; position: fixed; inset: 0; z-index: 10; background: rgba(0, 0, 0, .95); color: #eee;
        padding: 2em; overflow: auto; }
.zoom:target { display: block; }
.zoom .close { position: fixed; top: .4em; right: .8em; color: #fff; font-size: 2em; text-decoration: none; }
.zoom .crops { display: flex; gap: 1em; flex-wrap: wrap; justify-content: center; }
.zoom figure { flex: 1 1 0; min-width: 200px; max-width: 45vw; }
.zoom figure img { image-rendering: pixelated; }
.zoom figcaption { color: #ddd; font-size: 1em; text-align: center; }
.failures li { color: #b00020; white-space: pre-wrap; font-family: monospace; }
"""

#: In <head>: records script errors and pictures that fail to load, before the page's pictures start loading.
WATCH_SCRIPT = """
var reportErrors = [], brokenPictures = [];
window.addEventListener('error', function (event) {
  var target = event.target;
  if (target && target.tagName === 'IMG') {
    brokenPictures.push(target.getAttribute('src'));
    var status = document.getElementById('load-status');
    if (status) {
      status.className = 'bad';
      status.textContent = brokenPictures.length + ' picture(s) could not be loaded: ' + brokenPictures.join(', ');
    }
  } else {
    reportErrors.push(event.message);
  }
}, true);
"""

#: At the end of <body>: the ``?check`` mode (module docstring).
CHECK_SCRIPT = """
(function () {
  var body = document.body;
  var check = /[?&]check([=&]|$)/.test(window.location.search);
  var probes = [];
  if (check) {
    var urls = [];
    Array.prototype.forEach.call(document.querySelectorAll('img[src], a.picture[href]'), function (node) {
      var url = node.getAttribute(node.tagName === 'IMG' ? 'src' : 'href');
      if (urls.indexOf(url) < 0) { urls.push(url); }
    });
    var box = document.createElement('div');
    box.hidden = true;
    urls.forEach(function (url) {
      var probe = document.createElement('img');
      probe.setAttribute('src', url);
      probes.push(probe);
      box.appendChild(probe);
    });
    body.appendChild(box);  // before the load event, which waits for these pictures
  }
  window.addEventListener('load', function () {
    var status = document.getElementById('load-status');
    if (check) {
      var broken = probes.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
      if (broken.length) {
        status.className = 'bad';
        status.textContent = broken.length + ' of ' + probes.length + ' pictures could not be loaded: ' +
          broken.map(function (img) { return img.getAttribute('src'); }).join(', ');
      } else {
        status.textContent = 'All ' + probes.length + ' pictures loaded.';
      }
      var wrapped = Array.prototype.filter.call(document.querySelectorAll('.panels'), function (row) {
        var tops = Array.prototype.map.call(row.children, function (figure) {
          return Math.round(figure.getBoundingClientRect().top);
        });
        return tops.some(function (top) { return top !== tops[0]; }) || row.scrollWidth > row.clientWidth + 1;
      });
      body.setAttribute('data-images-loaded', probes.length - broken.length);
      body.setAttribute('data-images-broken', broken.length);
      body.setAttribute('data-width', window.innerWidth);
      body.setAttribute('data-wrapped-rows', wrapped.length);
    }
    if (reportErrors.length) { body.setAttribute('data-errors', reportErrors.join('\\n')); }
    body.setAttribute('data-ready', '1');
  });
})();
"""


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
    return ' '.join(f'<span>{html.escape(key)}: <b>{html.escape(format_value(value))}</b></span>'
                    for key, value in facts)


def _url(path):
    """An attribute value for a relative file path: percent-encoded (``#``, ``?``, ``%`` and spaces in file names
    stay part of the path) and HTML-escaped."""
    return html.escape(quote(path))


def _figure(panel, link=True):
    """A panel as a figure: its thumbnail linked to the full-size picture, or (``link=False``, the zoomed crops)
    the full-size picture itself."""
    size = f' width="{panel.size[0]}" height="{panel.size[1]}"' if panel.size else ''
    img = (f'<img src="{_url((panel.thumb or panel.src) if link else panel.src)}" loading="lazy"{size} '
           f'alt="{html.escape(panel.title)}">')
    if link:
        img = f'<a class="picture" href="{_url(panel.src)}">{img}</a>'
    return f'<figure>{img}<figcaption>{html.escape(panel.title)}</figcaption></figure>'


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
           '<div class="panels">', *(_figure(panel) for panel in row.panels), '</div>']
    if row.classes:
        out.append(_class_legend(row.classes))
    if row.parts:
        out.append('<div class="parts">')
        for part_index, part in enumerate(row.parts, 1):
            zoom = f'zoom-{index}-{part_index}'
            thumb = part.crops[0]
            out.append(f'<a class="part" href="#{zoom}"><img src="{_url(thumb.thumb or thumb.src)}" loading="lazy" '
                       f'alt="{html.escape(part.label)}">{html.escape(part.label)}, '
                       f'severity {format_value(part.severity)}</a>')
        out.append('</div>')
        for part_index, part in enumerate(row.parts, 1):
            out += [f'<div class="zoom" id="zoom-{index}-{part_index}">',
                    f'<a class="close" href="#{anchor}" title="close">&times;</a>',
                    f'<h2>{html.escape(row.name)}: {html.escape(part.label)}</h2>',
                    f'<p class="facts">{_facts([("severity", part.severity)] + list(part.facts))}</p>',
                    '<div class="crops">', *(_figure(crop, link=False) for crop in part.crops), '</div></div>']
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


def render_pages(title, rows, header=(), legend='', notes=(), failures=(), rows_per_page=DEFAULT_ROWS_PER_PAGE):
    """The HTML text of a report's pages.

    Args:
        title (str): Page title.
        rows (list[ReportRow]): Images; shown by decreasing severity (ties by name), ``rows_per_page`` a page.
        header (list[tuple[str, str]]): (heading, HTML) blocks shown on the first page: summary table, plots, ...
        legend (str): HTML shown on every page above the rows (the heat maps' colour bar).
        notes (list[str]): Paragraphs explaining the pictures (plain text); the severity definition is added.
        failures (list[Failure]): Images that were skipped, shown with their messages on the first page.
        rows_per_page (int): Image rows per page (>= 1).

    Returns:
        list[tuple[str, str]]: (file name, HTML text) of each page, the first ``index.html``.
    """
    rows = sorted(rows, key=lambda row: (-row.severity, row.name))
    count = max(1, math.ceil(len(rows) / rows_per_page))
    pages = []
    for number in range(1, count + 1):
        first = (number - 1) * rows_per_page
        page_rows = rows[first:first + rows_per_page]
        heading = title if number == 1 else f'{title} (page {number})'
        parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
                 '<meta name="viewport" content="width=device-width, initial-scale=1">',
                 f'<title>{html.escape(heading)}</title><style>{STYLE}</style><script>{WATCH_SCRIPT}</script>'
                 '</head><body>', f'<h1>{html.escape(heading)}</h1>', '<p id="load-status"></p>']
        if number == 1:
            if header:
                parts.append('<section class="head">' + ''.join(
                    f'<div><h3>{html.escape(block_title)}</h3>{block}</div>' for block_title, block in header)
                    + '</section>')
            parts.append('<details><summary>How to read this page</summary>'
                         + ''.join(f'<p>{html.escape(note)}</p>' for note in [*notes, SEVERITY_DEFINITION])
                         + '<p>Click a picture to open it at full size; click a part to compare its crops side by '
                         'side.</p></details>')
            if failures:
                parts.append(f'<h2>{len(failures)} image(s) skipped</h2><ul class="failures">'
                             + ''.join(f'<li>{html.escape(str(failure))}</li>' for failure in failures) + '</ul>')
        navigation = _navigation(number, count, first + 1, len(page_rows), len(rows))
        parts += [legend, navigation]
        parts += [_row(index, row) for index, row in enumerate(page_rows, first + 1)]
        parts += [navigation, f'<script>{CHECK_SCRIPT}</script>', '</body></html>']
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
