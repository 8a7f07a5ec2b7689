"""The visual report: part severity, pictures, figures, charts, the HTML pages, and the pages in a real browser
(Debian's chromium, which ``make test`` installs; the browser tests skip where it is missing)."""
import csv
import html
import json
import math
import os
import re
import shutil
import subprocess
import time
from urllib.parse import quote, unquote

import numpy as np
import pytest
import yaml
from conftest import run_command, run_tiny_test_command, write_random_images
from test_detect_cli import make_pair
from test_segmenter import SMALL_SCALE, randomise, tiny_config
from transformers import SegformerForSemanticSegmentation

from desra.detection import ArtifactDetector
from desra.report import (ADE20K_PALETTE, CURVE_THRESHOLDS, Panel, PartView, ReportPictures, ReportRow,
                          below_threshold_curve, class_figures, class_table, colorize_labels, colour_bar_svg,
                          contrast_heatmap, crop_box, difference_map, heat_colors, measure_parts, outline_mask,
                          pooled_curve, render_report, summary_table, thumbnail, thumbnail_path,
                          threshold_plot_svg, total_class_figures, write_report)
from desra.report.views import DIFF_FULL_SCALE, THUMB_SIZE
from desra.utils.img_io import load_rgb255, read_image, write_image

CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync')


def test_part_severity_follows_its_definition():
    mask = np.zeros((40, 50), bool)
    mask[10:20, 10:30] = True  # 200 px
    mask[30:34, 40:45] = True  # 20 px
    r = 5
    adjusted = np.full((30, 40), 0.9)
    adjusted[10 - r:20 - r, 10 - r:30 - r] = 0.6  # strength 0.4 over the big part
    adjusted[30 - r:34 - r, 40 - r:45 - r] = -0.5  # clipped to 0: strength 1 over the small part
    parts = measure_parts(mask, adjusted)
    assert [part.area for part in parts] == [200, 20]  # worst first: 0.4 * 200 / 2000 > 1 * 20 / 2000
    big, small = parts
    assert big.bbox == (10, 10, 20, 10) and small.bbox == (40, 30, 5, 4)
    assert big.strength == pytest.approx(0.4) and small.strength == pytest.approx(1.0)
    assert big.share == pytest.approx(200 / 2000)
    assert big.severity == pytest.approx(0.4 * 200 / 2000) and small.severity == pytest.approx(20 / 2000)
    with pytest.raises(ValueError, match='interior'):
        measure_parts(mask, adjusted[:, :-1])


def test_crop_box_stays_inside_the_image_and_has_context():
    assert crop_box((0, 0, 4, 4), (100, 200), min_size=48) == (0, 0, 48, 48)  # corner part: shifted inside
    x0, y0, x1, y1 = crop_box((50, 40, 40, 20), (100, 200))
    assert (x0, y0, x1, y1) == (40, 26, 100, 74)  # 10 px margin (a quarter of 40) around, grown to 48 px high
    assert crop_box((0, 0, 30, 20), (20, 30)) == (0, 0, 30, 20)  # never larger than the image


def test_pictures():
    heat = contrast_heatmap(np.array([[0.0, 1.0], [0.5, 1.0]]), (6, 6))
    assert heat.shape == (6, 6, 3) and not heat[:2].any() and not heat[:, :2].any()  # 2-px border is black
    low, high = heat[2, 2], heat[2, 3]
    assert low[0] > low[2] and high[2] > high[0]  # low contrast red, high contrast blue
    labels = np.array([[0, 2], [149, -1]])
    colors = colorize_labels(labels)
    np.testing.assert_array_equal(colors[0, 1], [6, 230, 230])
    np.testing.assert_array_equal(colors[1, 0], ADE20K_PALETTE[149])
    np.testing.assert_array_equal(colors[1, 1], [0, 0, 0])
    image = np.full((20, 20, 3), 100.0)
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    outlined = outline_mask(image, mask)
    np.testing.assert_array_equal(outlined[5, 8], [255, 0, 0])  # on the part's edge
    np.testing.assert_array_equal(outlined[10, 10], [100, 100, 100])  # inside, untouched
    np.testing.assert_array_equal(outlined[0, 0], [100, 100, 100])


def test_heat_colours_difference_map_and_thumbnails():
    np.testing.assert_array_equal(heat_colors([0.0, 1.0, 2.0]), heat_colors([0.0, 1.0, 1.0]))  # clipped to [0, 1]
    red, blue = heat_colors([0.0, 1.0])
    assert red[0] > 100 and red[2] == 0 and blue[2] > 100 and blue[0] == 0
    adjusted = np.linspace(0, 1, 12).reshape(3, 4)
    np.testing.assert_array_equal(contrast_heatmap(adjusted, (7, 8))[2:5, 2:6], heat_colors(adjusted))
    a = np.zeros((4, 4, 3))
    b = a.copy()
    b[0, 0] = (DIFF_FULL_SCALE * 3, 0, 0)  # mean over RGB = full scale: white
    b[0, 1] = (DIFF_FULL_SCALE * 9, 0, 0)  # beyond: saturates
    diff = difference_map(a, b).astype(int)
    np.testing.assert_array_equal(diff[0, 0], diff[0, 1])
    assert diff[0, 0].sum() > 600 and diff[1, 1].sum() < 30  # white-yellow where changed, black where equal
    assert difference_map(b, a).tolist() == difference_map(a, b).tolist()
    assert thumbnail(np.zeros((720, 1440, 3))).shape == (THUMB_SIZE // 2, THUMB_SIZE, 3)
    assert thumbnail(np.zeros((30, 20, 3))).shape == (30, 20, 3)  # small pictures stay as they are
    assert thumbnail_path('report/heat/a/b.png') == 'report/thumbs/heat/a/b.jpg'
    assert thumbnail_path('detect_gan/overlays/x.png') == 'report/thumbs/detect_gan/overlays/x.jpg'


def test_area_below_each_threshold_and_pooled_over_images():
    adjusted = np.array([[0.02, 0.3], [0.5, 0.95]])
    curve = below_threshold_curve(adjusted, image_area=8)  # the border (4 more pixels) is never below
    assert len(curve) == len(CURVE_THRESHOLDS) == 19 and CURVE_THRESHOLDS[0] == 0.05 and CURVE_THRESHOLDS[-1] == 0.95
    expected = [np.count_nonzero(adjusted < t) / 8 for t in CURVE_THRESHOLDS]
    assert curve == expected
    assert curve[0] == 1 / 8 and curve[CURVE_THRESHOLDS.index(0.5)] == 2 / 8 and curve[-1] == 3 / 8
    pooled = pooled_curve([[0.5, 1.0], [0.0, 0.25]], [100, 300])
    assert pooled == pytest.approx([50 / 400, (100 + 75) / 400])
    assert pooled_curve([], []) == []


def test_artifact_area_per_class():
    labels = np.array([[2, 2, 2, 4], [2, 4, 4, 4], [-1, 149, 149, 2]])
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 0, 0]], bool)
    figures = class_figures(labels, mask)
    assert figures == [{'index': 2, 'name': 'sky', 'pixels': 5, 'artifact_pixels': 2},
                       {'index': 4, 'name': 'tree', 'pixels': 4, 'artifact_pixels': 1},
                       {'index': 149, 'name': 'flag', 'pixels': 2, 'artifact_pixels': 1}]  # -1 (no class) not counted
    other = class_figures(np.full((2, 2), 4), np.zeros((2, 2), bool))
    totals = total_class_figures([figures, other])
    assert [total['index'] for total in totals] == [2, 4, 149]  # most artifact pixels first, ties: most pixels
    assert totals[1] == {'index': 4, 'name': 'tree', 'images': 2, 'images_with_artifacts': 1, 'pixels': 8,
                         'artifact_pixels': 1}
    table = class_table([totals], ['GAN-SR'])
    assert table.count('<tr>') == 2 + 3 and '>sky</th><td>2</td><td>50.0</td><td>40.0</td><td>1 / 1</td>' in table
    assert 'background:#06e6e6' in table  # sky's ADE20K colour
    assert class_table([total_class_figures([other])], ['x']) == ''  # no class with artifacts: no table
    # 20 classes with artifacts: the 15 with the most in the table, the other 5 folded below it
    many = np.arange(20).repeat(21 - np.arange(20))[None, :]  # class i covers 21 - i pixels, all artifact
    table = class_table([total_class_figures([class_figures(many, np.ones_like(many, bool))])], ['x'])
    shown, folded = table.split('<details>')
    assert shown.count('<tr>') == 2 + 15 and '<summary>5 more classes</summary>' in folded
    assert folded.count('<tr>') == 2 + 5 and '>wall</th><td>21</td>' in shown  # class 0 (wall) has the most


FIELDS = (('images', 'images', '{}'), ('area', ('before_pixels', 'after_pixels'), '{} px'),
          ('rate', 'removal_rate', '{:.3f}'), ('NIQE', ('niqe_gan', 'niqe_finetuned'), '{:.2f}'),
          ('verdict', 'realism', '{}'), ('odd', 'odd', '{:.2f}'))


def test_summary_table_rows_come_from_the_field_list():
    summary = {'images': 3, 'before_pixels': 120, 'after_pixels': 7, 'removal_rate': float('nan'),
               'niqe_finetuned': 4.25, 'odd': 'text'}
    table = summary_table(summary, FIELDS, ['before', 'after'])
    rows = re.findall(r'<tr>(.*?)</tr>', table)
    assert rows[0] == '<th></th><th>before</th><th>after</th>'
    assert rows[1:] == ['<th>images</th><td colspan="2">3</td>', '<th>area</th><td>120 px</td><td>7 px</td>',
                        '<th>rate</th><td colspan="2">n/a</td>', '<th>NIQE</th><td></td><td>4.25</td>',
                        '<th>odd</th><td colspan="2">text</td>']  # no realism verdict in the summary: no row
    assert summary_table({}, FIELDS) == '<table class="summary"></table>'


def svg_numbers(svg, tag, attribute):
    return [float(value) for value in re.findall(rf'<{tag} [^>]*?{attribute}="([-0-9.]+)"', svg)]


def test_colour_bar_marks_the_threshold():
    svg = colour_bar_svg(0.7, width=400)
    line = re.search(r'<line class="threshold" x1="([0-9.]+)"', svg)
    assert float(line.group(1)) == pytest.approx(10 + 0.7 * 400)
    stops = re.findall(r'<stop offset="([0-9.]+)" stop-color="(#[0-9a-f]{6})"', svg)
    assert len(stops) == 11 and stops[0][1] == '#{:02x}{:02x}{:02x}'.format(*heat_colors([0.0])[0])
    assert 'threshold 0.7' in svg and 'class="threshold"' not in colour_bar_svg(1.5)  # off the scale: no mark


def test_threshold_plot_draws_the_curves_and_the_final_area():
    curves = {'before': [0.01 * k for k in range(19)], 'after': [0.0] * 19}
    svg = threshold_plot_svg(CURVE_THRESHOLDS, curves, 0.7, {'before': 0.05})
    assert svg.count('<polyline class="curve"') == 2 and '>before</text>' in svg and '>after</text>' in svg
    points = [tuple(map(float, point.split(','))) for point in re.search(r'points="([^"]+)"', svg).group(1).split()]
    left, top, plot_w, plot_h = 52, 14, 560 - 52 - 16, 300 - 14 - 58  # the plot's frame; y axis up to 20 %
    assert points[0] == pytest.approx((left + 0.05 * plot_w, top + plot_h), abs=0.06)
    assert points[-1] == pytest.approx((left + 0.95 * plot_w, top + plot_h - 18 / 20 * plot_h), abs=0.06)
    cx, cy = svg_numbers(svg, 'circle', 'cx')[0], svg_numbers(svg, 'circle', 'cy')[0]
    assert (cx, cy) == pytest.approx((left + 0.7 * plot_w, top + plot_h - 5 / 20 * plot_h), abs=0.06)


def make_report(folder, rows_per_page=50):
    """Write a two-image report with real pictures and thumbnails under ``folder``; return the page path and the
    rows."""
    rng = np.random.default_rng(0)
    pictures = ReportPictures(str(folder))
    rows = []
    for index, name in enumerate(['mild', 'sub/<worst>']):
        mse = rng.uniform(0, 255, (60, 70, 3))
        gan = np.clip(mse + rng.normal(0, 30, mse.shape), 0, 255)
        mask = np.zeros((60, 70), bool)
        mask[20:30 + 10 * index, 20:40] = True
        adjusted = np.full((50, 60), 0.5)
        parts = measure_parts(mask, adjusted)
        crops = pictures.crops(name, parts, {'gan': gan, 'mse': mse}, {'gan': mask})
        panels = [pictures.panel('MSE-SR', pictures.image('mse', name, mse), (70, 60)),
                  pictures.panel('heat', pictures.heatmap('heat', name, adjusted, mask.shape), (70, 60)),
                  pictures.panel('diff', pictures.image('diff', name, difference_map(mse, gan)), (70, 60))]
        views = [PartView(f'part {k}', part.severity, [('area', part.area)],
                          [pictures.panel('GAN-SR', crop['gan']), pictures.panel('MSE-SR', crop['mse'])])
                 for k, (part, crop) in enumerate(zip(parts, crops), 1)]
        classes = class_figures(np.tile([[2, 4]], (60, 35)), mask)
        rows.append(ReportRow(name, sum(part.severity for part in parts), [('size', '70x60')], panels, views,
                              classes))
    page = os.path.join(str(folder), 'index.html')
    write_report(page, 'test report', rows, header=[('Summary', summary_table({'images': 2}, FIELDS))],
                 legend=colour_bar_svg(0.7), notes=['a note'], rows_per_page=rows_per_page)
    return page, rows


def page_sources(page):
    """The picture paths a page shows (src) and opens (href of a.picture), decoded, relative to the page."""
    text = open(page, encoding='utf-8').read()
    return [unquote(html.unescape(src)) for src in re.findall(r'<img src="([^"]+)"', text)], \
        [unquote(html.unescape(src)) for src in re.findall(r'<a class="picture" href="([^"]+)"', text)]


def test_page_lists_worst_first_with_thumbnails_full_size_links_and_zoom_targets(tmp_path):
    page, rows = make_report(tmp_path)
    text = open(page, encoding='utf-8').read()
    assert text.index('sub/&lt;worst&gt;') < text.index('<h2>mild</h2>')  # escaped, and the worst comes first
    assert 'Severity of an artifact part = mean(1 - adjusted)' in text
    shown, opened = page_sources(page)
    thumbs = [path for path in shown if path.startswith('report/thumbs/') and path.endswith('.jpg')]
    zoomed = [path for path in shown if path.startswith('report/crops/') and path.endswith('.png')]
    assert (len(thumbs), len(zoomed), len(shown)) == (6 + 2, 2 * 2, 12)  # panels and part thumbnails; full crops
    assert len(opened) == 6 and all(path.endswith('.png') and not path.startswith('report/thumbs/') for path in opened)
    for path in shown + opened:
        assert not os.path.isabs(path) and os.path.isfile(os.path.join(str(tmp_path), path)), path
    assert text.count('<img ') == text.count('loading="lazy"') == len(shown)
    assert text.count('width="70" height="60"') == 6  # room kept for each panel before it loads
    links = set(re.findall(r'href="#(zoom-[0-9-]+)"', text))
    assert links == set(re.findall(r'<div class="zoom" id="(zoom-[0-9-]+)"', text)) == {'zoom-1-1', 'zoom-2-1'}
    crop = read_image(os.path.join(str(tmp_path), rows[0].parts[0].crops[0].src))
    assert crop.shape == (48, 48, 3)  # the 10x20 part with context, grown to the 48-px minimum
    legend = re.findall(r'<div class="classes">(.*?)</div>', text)
    assert len(legend) == 2 and re.findall(r'</span>(\w+) (\d+) %', legend[0]) == [('sky', '50'), ('tree', '50')]


def test_render_report_shows_failures():
    from desra.utils.image_names import Failure
    text = render_report('t', [], failures=[Failure('x', '/data/x.png: not a readable image')])
    assert '1 image(s) skipped' in text and 'x: /data/x.png: not a readable image' in text


def many_rows(count):
    """``count`` rows with one picture each (not on disk), severities in a shuffled order."""
    severities = np.random.default_rng(0).permutation(count) / count
    return [ReportRow(f'img{index:05d}', float(severity), [('severity', float(severity))],
                      [Panel('GAN-SR', f'overlays/img{index:05d}.png', f'report/thumbs/img{index:05d}.jpg', (64, 48))])
            for index, severity in enumerate(severities)]


def test_ten_thousand_images_make_small_pages_worst_first(tmp_path):
    rows = many_rows(10000)
    start = time.perf_counter()
    written = write_report(str(tmp_path / 'index.html'), 'big', rows, header=[('Summary', '<p>s</p>')],
                           rows_per_page=50)
    seconds = time.perf_counter() - start
    assert seconds < 10, seconds
    assert len(written) == 200 and os.path.basename(written[1]) == 'page-2.html'
    order = []
    for number, path in enumerate(written, 1):
        text = open(path, encoding='utf-8').read()
        names = re.findall(r'<h2>(img\d+)</h2>', text)
        assert len(names) == 50 and len(text) < 60000, (path, len(text))
        assert ('<h3>Summary</h3>' in text) == (number == 1)  # the run's figures on the first page only
        assert (f'href="page-{number + 1}.html" rel="next"' in text) == (number < 200)
        order += names
    severity = {row.name: row.severity for row in rows}
    assert len(set(order)) == 10000 and all(severity[a] >= severity[b] for a, b in zip(order, order[1:]))
    assert 'Images 1-50 of 10000 (worst first), page 1 of 200' in open(written[0], encoding='utf-8').read()
    write_report(str(tmp_path / 'index.html'), 'smaller rerun', rows[:120], rows_per_page=50)
    assert sorted(os.listdir(tmp_path)) == ['index.html', 'page-2.html', 'page-3.html']  # stale pages removed


@pytest.fixture(scope='module')
def chromium():
    """Path of a working chromium (``make test`` installs it where missing, as root); the tests skip without it."""
    path = shutil.which('chromium')
    if path is None:
        pytest.skip('chromium is not installed: `make test` installs it as root (apt-get install chromium); '
                    'elsewhere install it to run the browser tests')
    version = subprocess.run([path, '--version'], capture_output=True, text=True, timeout=60)
    if version.returncode != 0:
        pytest.skip(f'chromium does not run here: {version.stderr.strip()[:300]}')
    return path


def run_chromium(chromium, profile, *args):
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f'--user-data-dir={profile}', *args], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def load_in_browser(chromium, page, profile, width=1400):
    """The DOM of ``page?check`` after it loaded in headless chromium at ``width`` pixels; returns the <body> start
    tag and the DOM."""
    dom = run_chromium(chromium, profile, f'--window-size={width},900', '--dump-dom', f'file://{page}?check')
    return re.search(r'<body[^>]*>', dom).group(0), dom


def test_page_shows_every_picture_in_a_browser(chromium, tmp_path):
    page, _ = make_report(tmp_path / 'report')
    body, _ = load_in_browser(chromium, page, tmp_path / 'profile')
    shown, opened = page_sources(page)
    total = len(set(shown + opened))  # thumbnails, full-size pictures and crops, each once
    assert 'data-ready="1"' in body, body
    assert f'data-images-loaded="{total}"' in body and 'data-images-broken="0"' in body, body
    assert 'data-errors' not in body, body


def test_browser_check_reports_a_missing_picture_and_a_script_error(chromium, tmp_path):
    page, rows = make_report(tmp_path / 'report')
    missing = rows[0].panels[0].src  # a full-size picture, only linked from the page
    os.remove(os.path.join(str(tmp_path / 'report'), missing))
    with open(page, encoding='utf-8') as f:
        text = f.read().replace('</body>', '<script>undefinedFunction();</script></body>')
    with open(page, 'w', encoding='utf-8') as f:
        f.write(text)
    body, dom = load_in_browser(chromium, page, tmp_path / 'profile')
    assert 'data-images-broken="1"' in body and 'undefinedFunction is not defined' in html.unescape(body), body
    assert re.search(rf'id="load-status"[^>]*>1 of \d+ pictures could not be loaded: {re.escape(quote(missing))}',
                     html.unescape(dom))


def solid_row_report(folder, colors, extra_style='', rows=2):
    """A report of ``rows`` rows with one solid-colour 400x300 picture per colour; returns the page path."""
    pictures = ReportPictures(str(folder))
    rows = [ReportRow(f'row {row}', 1.0 - row / 10, [], [
        pictures.panel(f'panel {k}', pictures.image('solid', f'{row}_{k}', np.full((300, 400, 3), color, float)),
                       (400, 300)) for k, color in enumerate(colors)]) for row in range(rows)]
    page = os.path.join(str(folder), 'index.html')
    write_report(page, 'layout', rows, legend=colour_bar_svg(0.7))
    if extra_style:
        with open(page, encoding='utf-8') as f:
            text = f.read().replace('</style>', extra_style + '</style>')
        with open(page, 'w', encoding='utf-8') as f:
            f.write(text)
    return page


#: Seven panel colours, as many panels as a test-command row has.
PANEL_COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (128, 0, 255)]


def test_image_rows_stay_on_one_line_at_1400_px(chromium, tmp_path):
    page = solid_row_report(tmp_path / 'report', PANEL_COLORS)
    body, _ = load_in_browser(chromium, page, tmp_path / 'profile', width=1400)
    assert 'data-width="1400"' in body and 'data-wrapped-rows="0"' in body, body
    # a row whose panels need more than 1400 px is seen (the check can fail)
    wide = solid_row_report(tmp_path / 'wide', PANEL_COLORS, '.panels { flex-wrap: wrap; } '
                            '.panels figure { min-width: 300px; }')
    body, _ = load_in_browser(chromium, wide, tmp_path / 'profile')
    assert 'data-wrapped-rows="2"' in body, body


def colour_boxes(screenshot, colors):
    """Bounding box (top, left, bottom, right) of the pixels of each colour in an RGB screenshot (None if none)."""
    boxes = []
    for color in colors:
        ys, xs = np.nonzero(np.all(np.abs(screenshot.astype(int) - color) <= 2, axis=2))
        boxes.append((ys.min(), xs.min(), ys.max(), xs.max()) if len(ys) > 200 else None)
    return boxes


def test_screenshot_at_1400_px_shows_each_row_on_one_line(chromium, tmp_path):
    page = solid_row_report(tmp_path / 'report', PANEL_COLORS, rows=1)
    shot = tmp_path / 'shot.png'
    run_chromium(chromium, tmp_path / 'profile', '--window-size=1400,1000', '--hide-scrollbars',
                 '--virtual-time-budget=5000', f'--screenshot={shot}', f'file://{page}')
    screenshot = read_image(str(shot))[..., ::-1]
    assert screenshot.shape[1] == 1400
    boxes = colour_boxes(screenshot, PANEL_COLORS)
    assert all(box is not None for box in boxes), boxes  # every panel of the first row is on screen
    tops = [box[0] for box in boxes]
    lefts = [box[1] for box in boxes]
    assert max(tops) - min(tops) <= 2, tops  # side by side on one line
    assert lefts == sorted(lefts) and boxes[-1][3] < 1400, boxes  # in order, the last one inside the window
    widths = [box[3] - box[1] for box in boxes]
    assert min(widths) > 120 and max(widths) - min(widths) <= 3, widths  # equal shares of the width
    assert all(math.isclose((box[2] - box[0]) / (box[3] - box[1]), 0.75, abs_tol=0.03) for box in boxes)


@pytest.fixture(scope='module')
def segmented_detect_run(tmp_path_factory):
    """A detect run with a tiny random SegFormer over three synthetic pairs, two report rows a page; returns (run
    root, detector options, pair folders)."""
    tmp = tmp_path_factory.mktemp('report_detect')
    model_dir = tmp / 'segformer'
    randomise(SegformerForSemanticSegmentation(tiny_config())).save_pretrained(model_dir)
    for index, name in enumerate(('a', 'b', 'c')):
        mse, gan = make_pair(64, 80, (20, 24, 44 - 6 * index, 52), seed=index)
        write_image(str(tmp / 'mse' / f'{name}.png'), mse[..., ::-1].copy())
        write_image(str(tmp / 'gan' / f'{name}.png'), gan[..., ::-1].copy())
    detector = {'threshold': 0.7, 'min_area': 50,
                'segmenter': {'type': 'segformer', 'model_path': str(model_dir), 'scale': list(SMALL_SCALE)}}
    dataset = {'dataroot_mse': str(tmp / 'mse'), 'dataroot_gan': str(tmp / 'gan')}
    opt = {'name': 'run', 'num_gpu': 0, 'datasets': {'detect': dataset},
           'detector': detector, 'report': {'rows_per_page': 2}, 'path': {'results_root': str(tmp / 'results')}}
    (tmp / 'detect.yml').write_text(yaml.safe_dump(opt))
    result = run_command(['desra/detect.py', '-opt', str(tmp / 'detect.yml')])
    assert result.returncode == 0, result.stderr
    return str(tmp / 'results' / 'run'), detector, tmp


def test_detect_report_shows_the_adjusted_map_classes_and_the_threshold_curve(segmented_detect_run):
    run_root, detector_opt, tmp = segmented_detect_run
    detector = ArtifactDetector(detector_opt)
    with open(os.path.join(run_root, 'summary.csv'), newline='') as f:
        rows = {row['image']: row for row in csv.DictReader(f)}
    assert set(rows) == {'a', 'b', 'c'}
    for name, row in rows.items():
        expected = detector.detect(load_rgb255(str(tmp / 'mse' / f'{name}.png')),
                                   load_rgb255(str(tmp / 'gan' / f'{name}.png')))
        assert not np.allclose(expected.adjusted, expected.contrast)  # the segmenter's weights change the map
        heat = read_image(os.path.join(run_root, 'report', 'heat', f'{name}.png'))[..., ::-1]
        np.testing.assert_array_equal(heat, contrast_heatmap(expected.adjusted, expected.mask.shape))
        class_areas = json.loads(row['class_areas'])
        figures = class_figures(expected.labels, expected.mask)
        assert class_areas == {figure['name']: figure['artifact_pixels'] for figure in figures
                               if figure['artifact_pixels']}
        assert sum(class_areas.values()) == int(row['artifact_pixels']) > 0
        assert list(class_areas.values()) == sorted(class_areas.values(), reverse=True)
        with open(os.path.join(run_root, 'records', f'{name}.json')) as f:
            record = json.load(f)
        assert record['classes'] == figures
        assert record['below_threshold'] == below_threshold_curve(expected.adjusted, expected.mask.size)
    pages = [open(os.path.join(run_root, page), encoding='utf-8').read() for page in ('index.html', 'page-2.html')]
    assert not os.path.exists(os.path.join(run_root, 'page-3.html'))
    first = pages[0]
    assert first.count('<article') == 2 and pages[1].count('<article') == 1
    assert '<th>threshold</th><td colspan="1">0.7</td>' in first and '<th>images examined</th>' in first
    assert '<th>min_area</th><td colspan="1">50 px</td>' in first and 'segformer' in first
    assert 'Artifact area per class (ADE20K)' in first and first.count('class="threshold-plot"') == 1
    assert all(page.count('class="colour-bar"') == 1 and 'class="classes"' in page for page in pages)
    assert 'adjusted contrast (thresholded for the mask)' in first and 'contrast c' not in first


def test_detect_report_loads_in_a_browser(chromium, segmented_detect_run, tmp_path):
    run_root = segmented_detect_run[0]
    for page in ('index.html', 'page-2.html'):
        body, _ = load_in_browser(chromium, os.path.join(run_root, page), tmp_path / 'profile')
        assert 'data-ready="1"' in body and 'data-images-broken="0"' in body and 'data-errors' not in body, body
        assert 'data-wrapped-rows="0"' in body, body


def test_test_report_has_the_summary_table_and_difference_maps(tmp_path):
    write_random_images(str(tmp_path / 'lr'), ('one', 'two'))
    result, run_root = run_tiny_test_command(tmp_path, {'dataroot_lq': str(tmp_path / 'lr')})
    assert result.returncode == 0, result.stderr
    with open(run_root / 'finetune_eval.json') as f:
        summary = json.load(f)['summary']
    text = open(run_root / 'index.html', encoding='utf-8').read()
    assert '<th>before: original GAN</th><th>after: fine-tuned</th>' in text
    assert (f'<th>artifact area</th><td>{summary["before_pixels"]} px</td><td>{summary["after_pixels"]} px</td>'
            in text)
    assert f'<th>removal rate (pooled)</th><td colspan="2">{summary["removal_rate"]:.3f}</td>' in text
    assert text.count('<polyline class="curve"') == 2  # original and fine-tuned
    for name in ('one', 'two'):
        diff = read_image(str(run_root / 'report' / 'diff' / f'{name}.png'))[..., ::-1]
        original, finetuned = (load_rgb255(str(run_root / f'sr_{role}' / f'{name}.png'))
                               for role in ('gan', 'finetuned'))
        np.testing.assert_array_equal(diff, difference_map(original, finetuned))
        thumb = f'report/thumbs/diff/{name}.jpg'
        assert thumb in text and os.path.isfile(run_root / thumb)
