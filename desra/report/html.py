"""Write a run's ``index.html``: one row per image, worst first, with click-to-zoom crops of every artifact part.

The page is static HTML + CSS with images referenced by paths relative to it, so the run folder can be opened
offline, copied or zipped. Zooming uses the CSS ``:target`` selector (no JavaScript needed). A short script at the
end of the page checks that every picture loaded and says so at the top of the page (``#load-status``); it also
leaves markers on ``<body>`` for automated checks: ``data-ready="1"`` once the page loaded,
``data-images-loaded`` / ``data-images-broken`` (counts) and ``data-errors`` (script errors, if any).
"""
import html
import math
from urllib.parse import quote
from dataclasses import dataclass, field
from typing import List, Tuple

from desra.report.parts import SEVERITY_DEFINITION
from desra.utils.img_io import write_text


@dataclass
class Panel:
    """A picture with a title.

    Attributes:
        title (str): Shown under the picture.
        src (str): Path of the PNG relative to the page, POSIX separators.
    """
    title: str
    src: str


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
        panels (list[Panel]): Full-size pictures (LR, MSE-SR, GAN-SR with mask, heat map, ...).
        parts (list[PartView]): Its artifact parts, worst first.
    """
    name: str
    severity: float
    facts: List[Tuple[str, str]]
    panels: List[Panel]
    parts: List[PartView] = field(default_factory=list)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { margin-bottom: .2em; }
#load-status { font-weight: bold; }
#load-status.bad { color: #b00020; }
table.summary { border-collapse: collapse; margin: 1em 0; }
table.summary td, table.summary th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
article { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1em; margin: 1.2em 0; }
article h2 { margin: 0 0 .3em 0; font-size: 1.15em; }
.facts { color: #555; margin: .2em 0 .8em 0; }
.facts span { margin-right: 1.2em; white-space: nowrap; }
.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: .8em; }
figure { margin: 0; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #ccc; background: #000; }
figcaption { font-size: .85em; color: #444; margin-top: .2em; }
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

CHECK_SCRIPT = """
window.addEventListener('error', function (event) {
  if (event.target === window) {
    var body = document.body;
    body.setAttribute('data-errors', (body.getAttribute('data-errors') || '') + event.message + '\\n');
  }
});
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
  var status = document.getElementById('load-status');
  if (broken.length) {
    status.className = 'bad';
    status.textContent = broken.length + ' of ' + images.length + ' pictures could not be loaded: ' +
      broken.map(function (img) { return img.getAttribute('src'); }).join(', ');
  } else {
    status.textContent = 'All ' + images.length + ' pictures loaded.';
  }
  document.body.setAttribute('data-images-loaded', images.length - broken.length);
  document.body.setAttribute('data-images-broken', broken.length);
  document.body.setAttribute('data-ready', '1');
});
"""


def format_value(value):
    """Text of a figure: floats with 4 significant digits, ``n/a`` for NaN/None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.4g}'
    return str(value)


def _facts(facts):
    return ' '.join(f'<span>{html.escape(key)}: <b>{html.escape(format_value(value))}</b></span>'
                    for key, value in facts)


def _url(path):
    """An attribute value for a relative file path: percent-encoded (``#``, ``?``, ``%`` and spaces in file names
    stay part of the path) and HTML-escaped."""
    return html.escape(quote(path))


def _figure(panel, link=True):
    img = f'<img src="{_url(panel.src)}" alt="{html.escape(panel.title)}">'
    if link:
        img = f'<a href="{_url(panel.src)}">{img}</a>'
    return f'<figure>{img}<figcaption>{html.escape(panel.title)}</figcaption></figure>'


def _row(index, row):
    anchor = f'img-{index}'
    out = [f'<article id="{anchor}">', f'<h2>{html.escape(row.name)}</h2>', f'<p class="facts">{_facts(row.facts)}</p>',
           '<div class="panels">', *(_figure(panel) for panel in row.panels), '</div>']
    if row.parts:
        out.append('<div class="parts">')
        for part_index, part in enumerate(row.parts, 1):
            zoom = f'zoom-{index}-{part_index}'
            thumb = part.crops[0]
            out.append(f'<a class="part" href="#{zoom}"><img src="{_url(thumb.src)}" '
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


def render_report(title, rows, summary=(), notes=(), failures=()):
    """The HTML text of a report page.

    Args:
        title (str): Page title.
        rows (list[ReportRow]): Images; shown by decreasing severity (ties by name).
        summary (list[tuple[str, object]]): Run-level figures for the summary table.
        notes (list[str]): Paragraphs explaining the pictures (plain text); the severity definition is added.
        failures (list[Failure]): Images that were skipped, shown with their messages.

    Returns:
        str
    """
    rows = sorted(rows, key=lambda row: (-row.severity, row.name))
    parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f'<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>',
             f'<h1>{html.escape(title)}</h1>', '<p id="load-status">Loading pictures...</p>']
    if summary:
        parts.append('<table class="summary">' + ''.join(
            f'<tr><th>{html.escape(key)}</th><td>{html.escape(format_value(value))}</td></tr>'
            for key, value in summary) + '</table>')
    parts.append('<details><summary>How to read this page</summary>'
                 + ''.join(f'<p>{html.escape(note)}</p>' for note in [*notes, SEVERITY_DEFINITION])
                 + '<p>Click a picture to open it at full size; click a part to compare its crops side by side.</p>'
                 '</details>')
    if failures:
        parts.append(f'<h2>{len(failures)} image(s) skipped</h2><ul class="failures">'
                     + ''.join(f'<li>{html.escape(str(failure))}</li>' for failure in failures) + '</ul>')
    parts += [_row(index, row) for index, row in enumerate(rows, 1)]
    parts += [f'<script>{CHECK_SCRIPT}</script>', '</body></html>']
    return '\n'.join(parts) + '\n'


def write_report(path, title, rows, summary=(), notes=(), failures=()):
    """Write :func:`render_report` to ``path`` atomically (arguments as there)."""
    write_text(path, render_report(title, rows, summary, notes, failures))
