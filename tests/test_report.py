"""The visual report: part severity, crop windows, pictures, figures, charts, the HTML pages, and the pages in a real
browser (Debian's chromium, which ``make test`` installs; the browser tests skip where it is missing): measured in
the pages' ``?check`` mode and on screenshots."""
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

import cv2
import numpy as np
import pytest
import yaml
from conftest import run_command, run_tiny_test_command, write_random_images
from test_detect_cli import make_pair
from test_segmenter import SMALL_SCALE, randomise, tiny_config
from transformers import SegformerForSemanticSegmentation

from desra.detection import ArtifactDetector
from desra.detection.outputs import part_records
from desra.evaluation.finetune_eval import FinetuneEvalRun
from desra.evaluation.summary import removal_warning
from desra.io.images import load_rgb255, read_image, write_image
from desra.report import (ADE20K_PALETTE, CURVE_THRESHOLDS, Comparison, Panel, ReportPictures, ReportRow,
                          below_threshold_curve, class_figures, class_table, colorize_labels, colour_scales_svg,
                          contrast_heatmap, crop_box, diff_position, difference_map, heat_colors, measure_parts,
                          outline_mask, pooled_curve, render_report, severity_fact, strength_map, summary_table,
                          thumbnail,
                          thumbnail_path, thumbnail_size, threshold_plot_svg, total_class_figures, write_report)
from desra.report.blocks import part_views
from desra.report.html import SEVERITY_DEFINITION
from desra.report.views import DIFF_FULL_SCALE, DIFF_TICKS, THUMB_SIZE, diff_colors

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


def test_crop_box_is_a_square_window_around_the_part():
    assert crop_box((0, 0, 4, 4), (100, 200)) == (0, 0, 64, 64)  # corner part: the smallest window, shifted inside
    # a 40x20 part with 10 px of context on each side needs 60 px: the 64-px window, centred on it
    assert crop_box((50, 40, 40, 20), (100, 200)) == (38, 18, 102, 82)
    assert crop_box((100, 100, 70, 20), (300, 300)) == (71, 46, 199, 174)  # 70 + 2 x 18 = 106 px: 128 px
    assert crop_box((0, 0, 30, 20), (20, 30)) == (5, 0, 25, 20)  # never larger than the image's shorter side


def test_crop_box_of_a_part_larger_than_the_window_shows_its_strongest_region():
    shape = (60, 200)  # a part as wide as the image: a 60-px square, not a thin strip
    weights = np.zeros(shape)
    weights[20:30] = 0.2
    assert crop_box((0, 20, 200, 10), shape, weights) == (70, 0, 130, 60)  # even strength: centred
    weights[20:30, 140:160] = 1.0
    # every window from x0 = 100 to 140 holds the strong spot; the one nearest the part's centre (x = 100) wins
    assert crop_box((0, 20, 200, 10), shape, weights) == (100, 0, 160, 60)
    weights[25, 10] = 50.0  # outside the part's box (another part, say): not counted
    assert crop_box((0, 22, 200, 3), shape, weights) == (100, 0, 160, 60)
    big = np.zeros((400, 400))
    big[10:260, 10:310] = 0.1
    big[200:220, 280:300] = 1.0
    # the largest window, 192 px: inside the part's box (which holds more of it) and around the spot
    assert crop_box((10, 10, 300, 250), big.shape, big) == (108, 39, 300, 231)
    assert crop_box((10, 10, 300, 250), big.shape) == (64, 39, 256, 231)  # no weights: centred on the part


def test_crops_are_square_windows_the_outlined_ones_with_a_plain_twin(tmp_path):
    rng = np.random.default_rng(1)
    gan, mse = rng.uniform(0, 255, (2, 60, 200, 3))
    mask = np.zeros((60, 200), bool)
    mask[22:27, :] = True  # a part as wide as the image
    parts = measure_parts(mask, np.full((50, 190), 0.5))
    (paths, window), = ReportPictures(str(tmp_path)).crops('x', parts, {'gan': gan, 'mse': mse}, {'gan': mask},
                                                           strength_map(np.full((50, 190), 0.5), mask.shape) * mask)
    assert window == (70, 0, 130, 60) and set(paths) == {'gan', 'gan_plain', 'mse'}
    crops = {label: read_image(str(tmp_path / path))[..., ::-1] for label, path in paths.items()}
    assert all(crop.shape == (60, 60, 3) for crop in crops.values())  # square: nothing to letterbox
    np.testing.assert_array_equal(crops['gan_plain'], np.round(gan[:, 70:130]).astype(np.uint8))
    np.testing.assert_array_equal(crops['mse'], np.round(mse[:, 70:130]).astype(np.uint8))
    red = np.all(crops['gan'] == (255, 0, 0), axis=2)
    # the outline is the part's border (rows 22 and 26), not the window's edges where it cuts the part
    assert red[22].all() and red[26].all() and not red[:22].any() and not red[27:].any() and not red[23:26].any()


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


def test_heat_map_outlines_the_mask_in_white():
    contrast = np.random.default_rng(2).uniform(0, 1, (30, 40))
    mask = np.zeros((40, 50), bool)
    mask[10:25, 12:20] = True
    mask[20:30, 12:35] = True  # an L shape
    heat = contrast_heatmap(contrast, mask.shape, mask)
    border = mask & ~cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))).astype(bool)
    white = np.all(heat == 255, axis=2)
    np.testing.assert_array_equal(white, border)  # exactly the mask's border, 1 px at this size
    np.testing.assert_array_equal(heat[~white], contrast_heatmap(contrast, mask.shape)[~white])  # elsewhere as before
    assert not np.all(heat_colors(np.linspace(0, 1, 256)) == 255, axis=1).any()  # no heat colour is white


def test_difference_map_shows_small_differences_on_a_log_scale():
    a = np.zeros((1, 8, 3))
    b = a.copy()
    b[0, :, 0] = [0, 3, 6, 12, 24, 48, 3 * DIFF_FULL_SCALE, 9 * DIFF_FULL_SCALE]  # mean over RGB: 0, 1, 2, 4, ...
    diff = difference_map(a, b)[0].astype(int)
    np.testing.assert_array_equal(diff, diff_colors(diff_position([0, 1, 2, 4, 8, 16, 64, 192])))
    assert diff[0].sum() < 10 and diff[1].sum() > 60  # equal: black; a difference of 1 in 255 is visible
    assert all(diff[k].sum() < diff[k + 1].sum() for k in range(6)) and (diff[6] == diff[7]).all()  # saturates
    assert diff[6].sum() > 600  # white-yellow
    assert diff_position(1) == pytest.approx(math.log(2) / math.log(1 + DIFF_FULL_SCALE))
    assert difference_map(b, a).tolist() == difference_map(a, b).tolist()


def test_heat_colours_and_thumbnails():
    np.testing.assert_array_equal(heat_colors([0.0, 1.0, 2.0]), heat_colors([0.0, 1.0, 1.0]))  # clipped to [0, 1]
    red, blue = heat_colors([0.0, 1.0])
    assert red[0] > 100 and red[2] == 0 and blue[2] > 100 and blue[0] == 0
    adjusted = np.linspace(0, 1, 12).reshape(3, 4)
    np.testing.assert_array_equal(contrast_heatmap(adjusted, (7, 8))[2:5, 2:6], heat_colors(adjusted))
    assert THUMB_SIZE >= 640  # as wide as a panel gets at 1400 px
    assert thumbnail(np.zeros((720, 1440, 3))).shape == (THUMB_SIZE // 2, THUMB_SIZE, 3)
    assert thumbnail_size((1440, 720)) == (THUMB_SIZE, THUMB_SIZE // 2) and thumbnail_size((30, 20)) == (30, 20)
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


def test_colour_scales_of_the_heat_and_difference_maps():
    svg = colour_scales_svg(0.7)
    heat, diff = re.search(r'<symbol id="scale-heat".*?</symbol>', svg).group(0), \
        re.search(r'<symbol id="scale-diff".*?</symbol>', svg).group(0)
    assert re.search(r'<line class="threshold" x1="69.60%"', heat)  # 1 % + 98 % x 0.7 along the bar
    assert 'threshold 0.7' in heat and 'class="threshold"' not in colour_scales_svg(1.5)  # off the scale: no mark
    for symbol_id, colours in (('scale-heat', heat_colors), ('scale-diff', diff_colors)):
        stops = re.findall(r'<stop offset="([0-9.]+)" stop-color="(#[0-9a-f]{6})"', re.search(
            rf'<linearGradient id="{symbol_id}-colours">.*?</linearGradient>', svg).group(0))
        assert [color for _, color in stops] == ['#{:02x}{:02x}{:02x}'.format(*rgb) for rgb in
                                                 colours([float(offset) for offset, _ in stops])]
    ticks = re.findall(r'<text x="([0-9.]+)%"[^>]*>([^<]+)</text>', diff)[:-1]
    assert [label for _, label in ticks] == [str(value) for value in DIFF_TICKS[:-1]] + [f'{DIFF_FULL_SCALE}+']
    assert [float(x) for x, _ in ticks] == pytest.approx([1 + 98 * diff_position(value) for value in DIFF_TICKS],
                                                         abs=0.01)  # where those differences are coloured
    assert 'in 0..255 units (log scale)' in diff
    assert 'width="0" height="0"' in svg and 'display:none' not in svg  # hidden without hiding the gradients


def test_threshold_plot_draws_the_curves_and_the_final_area():
    curves = {'before': [0.01 * k for k in range(19)], 'after': [0.0] * 19}
    svg = threshold_plot_svg(CURVE_THRESHOLDS, curves, 0.7, {'before': 0.05})
    assert svg.count('<polyline class="curve"') == 2 and '>before</text>' in svg and '>after</text>' in svg
    assert svg.count('stroke-width="2"/>') == 2 and 'coincides' not in svg  # distinct curves: both drawn alike
    points = [tuple(map(float, point.split(','))) for point in re.search(r'points="([^"]+)"', svg).group(1).split()]
    left, top, plot_w, plot_h = 52, 14, 560 - 52 - 16, 300 - 14 - 58  # the plot's frame; y axis up to 20 %
    assert points[0] == pytest.approx((left + 0.05 * plot_w, top + plot_h), abs=0.06)
    assert points[-1] == pytest.approx((left + 0.95 * plot_w, top + plot_h - 18 / 20 * plot_h), abs=0.06)
    cx, cy = svg_numbers(svg, 'circle', 'cx')[0], svg_numbers(svg, 'circle', 'cy')[0]
    assert (cx, cy) == pytest.approx((left + 0.7 * plot_w, top + plot_h - 5 / 20 * plot_h), abs=0.06)


def test_coinciding_curves_are_both_visible():
    same = [0.01 * k for k in range(19)]
    svg = threshold_plot_svg(CURVE_THRESHOLDS, {'original': same, 'fine-tuned': list(same),
                                                'other': [0.0] * 19}, 0.7)
    lines = re.findall(r'<polyline class="curve" points="([^"]+)" fill="none" stroke="(#\w+)" ([^/]*)/>', svg)
    assert len(lines) == 3 and lines[0][0] == lines[1][0] and lines[0][1] != lines[1][1]
    assert lines[0][2].strip() == 'stroke-width="7" stroke-opacity="0.45"'  # underneath: wider and lighter
    assert lines[1][2].strip() == lines[2][2].strip() == 'stroke-width="2"'
    assert '>fine-tuned (coincides with original)</text>' in svg and '>other</text>' in svg


def make_report(folder, rows_per_page=50, warnings=()):
    """Write a two-image report with real pictures, thumbnails and crops under ``folder`` (per row: GAN-SR, its heat
    map, an MSE-SR / GAN-SR slider, a difference map and the LR image; one part each, with LR crops and a slider in
    its zoom); return the page path and the rows."""
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
        lr_path, lr = pictures.lr(name, mse[::4, ::4], mask.shape)
        crops = pictures.crops(name, parts, {'gan': gan, 'mse': mse, 'lr': lr}, {'gan': mask},
                               strength_map(adjusted, mask.shape) * mask)
        size = (70, 60)
        gan_panel = pictures.panel('GAN-SR', pictures.image('gan', name, gan), size)
        panels = [gan_panel, pictures.panel('heat', pictures.heatmap('heat', name, adjusted, mask.shape, mask), size,
                                            'heat'),
                  Comparison('slider', pictures.panel('MSE-SR', pictures.image('mse', name, mse), size), gan_panel),
                  pictures.panel('diff', pictures.image('diff', name, difference_map(mse, gan)), size, 'diff'),
                  pictures.panel('LR', lr_path, size)]
        views = part_views(part_records(parts, crops), {'gan': 'GAN-SR', 'mse': 'MSE-SR', 'lr': 'LR'},
                           compare={'mse': 'MSE-SR', 'gan_plain': 'GAN-SR'})
        classes = class_figures(np.tile([[2, 4]], (60, 35)), mask)
        rows.append(ReportRow(name, sum(part.severity for part in parts), [('size', '70x60')], panels, views,
                              classes))
    page = os.path.join(str(folder), 'index.html')
    write_report(page, 'test report', rows, header=[('Summary', summary_table({'images': 2}, FIELDS))],
                 scales=colour_scales_svg(0.7), notes=['a note'], warnings=warnings, rows_per_page=rows_per_page)
    return page, rows


def page_sources(page):
    """The picture paths a page shows (src) and opens (href of a.picture), decoded, relative to the page."""
    text = open(page, encoding='utf-8').read()
    return [unquote(html.unescape(src)) for src in re.findall(r'<img(?: class="top")? src="([^"]+)"', text)], \
        [unquote(html.unescape(src)) for src in re.findall(r'<a class="picture" href="([^"]+)"', text)]


def test_page_lists_worst_first_with_thumbnails_full_size_links_and_zoom_targets(tmp_path):
    page, rows = make_report(tmp_path)
    text = open(page, encoding='utf-8').read()
    assert text.index('sub/&lt;worst&gt;') < text.index('<h2>mild</h2>')  # escaped, and the worst comes first
    shown, opened = page_sources(page)
    thumbs = [path for path in shown if path.startswith('report/thumbs/') and path.endswith('.jpg')]
    crops = [path for path in shown if path.startswith('report/crops/') and path.endswith('.png')]
    # per row: 4 panels and the 2 pictures of a slider; per part: 2 crops on its card, 3 and a slider's 2 in its zoom
    assert (len(thumbs), len(crops), len(shown)) == (2 * 6, 2 * 7, 2 * 13)
    assert len(opened) == 2 * 6 and all(path.endswith('.png') and not path.startswith('report/thumbs/')
                                        for path in opened)
    for path in shown + opened:
        assert not os.path.isabs(path) and os.path.isfile(os.path.join(str(tmp_path), path)), path
    assert text.count('<img ') == text.count('loading="lazy"') == len(shown)
    assert text.count('width="70" height="60"') == 2 * 6  # room kept for each panel before it loads
    links = set(re.findall(r'href="#(zoom-[0-9-]+)"', text))
    assert links == set(re.findall(r'<div class="zoom" id="(zoom-[0-9-]+)"', text)) == {'zoom-1-1', 'zoom-2-1'}
    for crop in rows[0].parts[0].crops:
        assert read_image(os.path.join(str(tmp_path), crop.src)).shape == (60, 60, 3)  # square, the image's height
    assert 'width="60" height="60"' in text and 'style="width:300px"' in text  # on the card: 5x, nearest neighbour
    assert text.count('<svg class="colour-bar"') == 2 * 2 and text.count('<use href="#scale-heat"/>') == 2
    assert text.count('<use href="#scale-diff"/>') == 2 and text.count('<symbol id="scale-heat"') == 1
    assert text.count('<input type="range" min="0" max="100" value="50"') == 2 + 2  # per row and in each zoom
    legend = re.findall(r'<div class="classes">(.*?)</div>', text)
    assert len(legend) == 2 and re.findall(r'</span>(\w+) (\d+) %', legend[0]) == [('sky', '50'), ('tree', '50')]


def test_severity_is_explained_in_words_and_units(tmp_path):
    page, rows = make_report(tmp_path, rows_per_page=1)
    mild = rows[0].parts[0]
    assert (mild.severity, mild.strength, mild.share) == pytest.approx((0.5 * 200 / 4200, 0.5, 200 / 4200))
    pages = [open(os.path.join(str(tmp_path), name), encoding='utf-8').read() for name in ('index.html',
                                                                                           'page-2.html')]
    link = '<a class="def" href="#severity-definition">severity</a>'
    assert f'{link} <b>2.38 %</b> = strength 0.50 &times; 4.76 % of the image' in pages[1]  # the card and the zoom
    assert pages[1].count('= strength 0.50 &times; 4.76 % of the image') == 2
    for text in pages:  # the definition one click away on every page
        assert f'<p>{html.escape(SEVERITY_DEFINITION)}</p>' in text and 'id="severity-definition"' in text
    assert 'in % of the image = strength x share' in SEVERITY_DEFINITION
    row = render_report('t', [ReportRow('x', 0.0123, [severity_fact(0.0123, 0.001)], [])])
    assert f'{link}: <b>1.23 %</b> &rarr; <b>0.1 %</b> after fine-tuning' in row


def test_warnings_are_shown_at_the_top_of_every_page(tmp_path):
    page, _ = make_report(tmp_path, rows_per_page=1, warnings=['nothing was removed <really>'])
    for name in ('index.html', 'page-2.html'):
        text = open(os.path.join(str(tmp_path), name), encoding='utf-8').read()
        block = '<div class="warnings" role="alert"><p><b>Warning:</b> nothing was removed &lt;really&gt;</p></div>'
        assert text.index(block) < text.index('<article') and text.index('</h1>') < text.index(block)
        assert name != 'index.html' or text.index(block) < text.index('<h3>Summary</h3>')
    assert 'class="warnings"' not in render_report('t', [])


def test_render_report_shows_failures():
    from desra.io.names import Failure
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


def marker(body, name):
    """The number a ``?check`` marker on <body> holds."""
    return int(re.search(rf' {name}="(\d+)"', body).group(1))


def screenshot(chromium, url, profile, path, width=1400, height=1000):
    """An RGB screenshot of ``url`` in headless chromium, ``width`` x ``height`` pixels."""
    run_chromium(chromium, profile, f'--window-size={width},{height}', '--hide-scrollbars',
                 '--virtual-time-budget=5000', f'--screenshot={path}', url)
    shot = read_image(str(path))[..., ::-1]
    assert shot.shape[:2] == (height, width)
    return shot


def test_page_shows_every_picture_in_a_browser(chromium, tmp_path):
    page, _ = make_report(tmp_path / 'report')
    body, _ = load_in_browser(chromium, page, tmp_path / 'profile')
    shown, opened = page_sources(page)
    total = len(set(shown + opened))  # thumbnails, full-size pictures and crops, each once
    assert 'data-ready="1"' in body, body
    assert f'data-images-loaded="{total}"' in body and 'data-images-broken="0"' in body, body
    assert 'data-colour-bars="4"' in body, body  # under each heat map and difference map, drawn as wide as it
    assert 'data-errors' not in body, body


def test_browser_check_reports_a_missing_picture_and_a_script_error(chromium, tmp_path):
    page, rows = make_report(tmp_path / 'report')
    missing = rows[0].panels[0].src  # a full-size picture, only linked from the page
    os.remove(os.path.join(str(tmp_path / 'report'), missing))
    add_to_page(page, '<script>undefinedFunction();</script>')
    body, dom = load_in_browser(chromium, page, tmp_path / 'profile')
    assert 'data-images-broken="1"' in body and 'undefinedFunction is not defined' in html.unescape(body), body
    assert re.search(rf'id="load-status"[^>]*>1 of \d+ pictures could not be loaded: {re.escape(quote(missing))}',
                     html.unescape(dom))


def add_to_page(page, script='', style=''):
    """Add a script at the end of a page's <body> (after its own) and style rules to its style sheet."""
    with open(page, encoding='utf-8') as f:
        text = f.read().replace('</style>', style + '</style>').replace('</body>', script + '</body>')
    with open(page, 'w', encoding='utf-8') as f:
        f.write(text)


def solid_row_report(folder, colors, rows=2, size=(800, 600), scales=None, slider_at=None):
    """A report of ``rows`` rows with one solid-colour picture of ``size`` = (width, height) per colour; ``scales``:
    {picture index: colour bar}; ``slider_at``: the pictures at that index and the next shown as a slider.
    Returns the page path."""
    pictures = ReportPictures(str(folder))
    width, height = size

    def picture(row, k):
        path = pictures.image('solid', f'{row}_{k}', np.full((height, width, 3), colors[k], float))
        return pictures.panel(f'panel {k}', path, size, (scales or {}).get(k))

    report_rows = []
    for row in range(rows):
        panels = [picture(row, k) for k in range(len(colors))]
        if slider_at is not None:
            panels[slider_at:slider_at + 2] = [Comparison('slider', *panels[slider_at:slider_at + 2])]
        report_rows.append(ReportRow(f'row {row}', 1.0 - row / 10, [], panels))
    page = os.path.join(str(folder), 'index.html')
    write_report(page, 'layout', report_rows, scales=colour_scales_svg(0.7))
    return page


#: Nine picture colours, none in the colour bars: a test-command row has 8 pictures, one a slider of two.
PANEL_COLORS = [(200, 40, 160), (40, 160, 90), (160, 110, 40), (110, 40, 60), (60, 110, 160), (150, 150, 150),
                (100, 200, 40), (40, 60, 120), (220, 180, 200)]
#: As the test command lays a row out: overlays, heat maps (2, 3), a slider (4, 5), the difference map (6), LR, MSE.
TEST_ROW = {'scales': {2: 'heat', 3: 'heat', 6: 'diff'}, 'slider_at': 4}
#: The old layout: every picture of a row on one line.
ONE_LINE_STYLE = ('.panels { display: flex !important; } '
                  '.panels > figure { flex: 1 1 0; min-width: 120px; max-width: 420px !important; }')


def test_panels_are_at_least_320_px_wide_and_thumbnails_not_enlarged(chromium, tmp_path):
    page = solid_row_report(tmp_path / 'report', PANEL_COLORS, **TEST_ROW)  # 800x600: 640x480 thumbnails
    for width in (1400, 900):
        body, _ = load_in_browser(chromium, page, tmp_path / 'profile', width)
        assert f'data-width="{width}"' in body and marker(body, 'data-panels') == 2 * 8, body
        assert marker(body, 'data-narrowest-panel') >= 320 and 'data-upscaled-panels="0"' in body, body
        assert 'data-colour-bars="6"' in body, body
    # seven or more pictures on one line at 1400 px (the old layout) are seen: the check can fail
    old = solid_row_report(tmp_path / 'old', PANEL_COLORS, **TEST_ROW)
    add_to_page(old, style=ONE_LINE_STYLE)
    body, _ = load_in_browser(chromium, old, tmp_path / 'profile')
    assert 0 < marker(body, 'data-narrowest-panel') < 200, body


def colour_boxes(screenshot, colors, tolerance=3):
    """Bounding box (top, left, bottom, right) of the pixels of each colour in an RGB screenshot (None if none)."""
    boxes = []
    for color in colors:
        ys, xs = np.nonzero(np.all(np.abs(screenshot.astype(int) - color) <= tolerance, axis=2))
        boxes.append((ys.min(), xs.min(), ys.max(), xs.max()) if len(ys) > 200 else None)
    return boxes


def near(pixels, color, tolerance=8):
    """Whether some pixel of ``pixels`` (..., 3) is within ``tolerance`` of ``color`` in every channel."""
    return bool(np.any(np.all(np.abs(pixels.astype(int) - np.asarray(color, int)) <= tolerance, axis=-1)))


@pytest.mark.parametrize('width', [1400, 900])
def test_screenshot_shows_pictures_in_pairs_with_colour_bars(chromium, tmp_path, width):
    page = solid_row_report(tmp_path / 'report', PANEL_COLORS, rows=1, **TEST_ROW)
    shot = screenshot(chromium, f'file://{page}', tmp_path / 'profile', tmp_path / 'shot.png', width, 2600)
    boxes = colour_boxes(shot, PANEL_COLORS)
    assert all(box is not None for box in boxes), boxes  # every picture of the row is on screen
    figures = [boxes[k] for k in (0, 1, 2, 3, 4, 6, 7, 8)]  # the slider shows its left picture (4) on the left
    for left, right in zip(figures[::2], figures[1::2]):  # in pairs, side by side
        assert abs(left[0] - right[0]) <= 2 and left[3] < right[1], (left, right)
    widths = [box[3] - box[1] + 1 for box in figures if box is not figures[4]]
    assert min(widths) >= 320 and max(widths) <= 640, widths  # large, and the 640-px thumbnails at most 1:1
    assert all(math.isclose((box[2] - box[0] + 1) / (box[3] - box[1] + 1), 0.75, abs_tol=0.02)
               for box in figures if box is not figures[4])
    for index, (low, high) in ((2, heat_colors([0.0, 1.0])), (3, heat_colors([0.0, 1.0])),
                               (6, diff_colors([0.0, 1.0]))):
        top, left, bottom, right = boxes[index]
        below = shot[bottom + 2:bottom + 30, left:right + 1]  # the colour bar under the picture, both its ends
        assert near(below[:, :right - left + 1 >> 2], low) and near(below[:, 3 * (right - left + 1) >> 2:], high)


def test_a_part_as_wide_as_the_image_has_square_crops_on_its_card(chromium, tmp_path):
    pictures = ReportPictures(str(tmp_path / 'report'))
    mask = np.zeros((60, 400), bool)
    mask[20:40, :] = True
    parts = measure_parts(mask, np.full((50, 390), 0.2))
    colors = {'gan': (200, 40, 160), 'mse': (40, 160, 90)}
    crops = pictures.crops('wide', parts, {label: np.full((60, 400, 3), color, float) for label, color in
                                           colors.items()}, weights=strength_map(np.full((50, 390), 0.2), (60, 400)))
    views = part_views(part_records(parts, crops), {'gan': 'GAN-SR', 'mse': 'MSE-SR'})
    page = str(tmp_path / 'report' / 'index.html')
    write_report(page, 'wide part', [ReportRow('wide', 1.0, [], [], views)])
    assert 'Crops: the strongest 60 x 60 px of the part (400 x 20 px, larger than that); ' in open(page).read()
    shot = screenshot(chromium, f'file://{page}', tmp_path / 'profile', tmp_path / 'shot.png')
    for top, left, bottom, right in colour_boxes(shot, list(colors.values())):
        assert bottom - top == right - left >= 290  # a square 5x the 60-px window: no letterbox bars
        assert not near(shot[top:bottom + 1, left:right + 1], (0, 0, 0), 40)


def zoom_report(folder, panel_color):
    """A one-row report whose pictures are solid ``panel_color`` and whose one part has solid crops of ZOOM_COLORS;
    returns the page path."""
    pictures = ReportPictures(str(folder))
    panels = [pictures.panel(f'panel {k}', pictures.image('solid', str(k), np.full((300, 400, 3), panel_color,
                                                                                   float)), (400, 300))
              for k in range(4)]
    mask = np.zeros((300, 400), bool)
    mask[100:150, 100:180] = True
    parts = measure_parts(mask, np.full((290, 390), 0.2))
    images = {label: np.full((300, 400, 3), color, float) for label, color in ZOOM_COLORS.items()}
    crops = pictures.crops('x', parts, images, {'gan': mask})
    views = part_views(part_records(parts, crops), {'gan': 'GAN-SR', 'mse': 'MSE-SR', 'lr': 'LR'},
                       compare={'mse': 'MSE-SR', 'gan_plain': 'GAN-SR'})
    page = os.path.join(str(folder), 'index.html')
    write_report(page, 'zoom', [ReportRow('x', 1.0, [], panels, views)])
    return page


ZOOM_COLORS = {'gan': (200, 40, 160), 'mse': (40, 160, 90), 'lr': (60, 110, 160)}


def test_an_opened_zoom_is_opaque_and_shows_the_lr_crop(chromium, tmp_path):
    shots = [screenshot(chromium, f'file://{zoom_report(tmp_path / str(k), color)}#zoom-1-1', tmp_path / 'profile',
                        tmp_path / f'{k}.png', 1400, 900) for k, color in enumerate([(255, 0, 0), (0, 0, 255)])]
    np.testing.assert_array_equal(shots[0], shots[1])  # nothing of the page behind it shows
    assert tuple(shots[0][-5, 5]) == (17, 17, 17)  # its own background
    boxes = colour_boxes(shots[0], list(ZOOM_COLORS.values()))
    assert all(box is not None and box[3] - box[1] >= 250 for box in boxes), boxes  # every crop, the LR one too
    # a part of the page behind a translucent zoom would show: the check can fail
    translucent = zoom_report(tmp_path / 'old', (255, 0, 0))
    add_to_page(translucent, style='.zoom { background: rgba(0, 0, 0, .95) !important; }')
    old = screenshot(chromium, f'file://{translucent}#zoom-1-1', tmp_path / 'profile', tmp_path / 'old.png', 1400, 900)
    assert not np.array_equal(old, shots[0])


def test_esc_closes_a_zoom(chromium, tmp_path):
    page = zoom_report(tmp_path / 'report', (255, 0, 0))
    add_to_page(page, "<script>window.addEventListener('load', function () { "
                      "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'})); "
                      "document.body.setAttribute('data-hash', window.location.hash); });</script>")
    dom = run_chromium(chromium, tmp_path / 'profile', '--window-size=1400,900', '--dump-dom',
                       f'file://{page}#zoom-1-1')
    assert 'data-hash="#img-1"' in dom  # back to the image's row


def test_slider_shows_the_share_its_input_sets(chromium, tmp_path):
    red, blue = (255, 0, 0), (0, 0, 255)
    page = solid_row_report(tmp_path / 'report', [red, blue], rows=1, size=(400, 300), slider_at=0)
    assert '<input type="range" min="0" max="100" value="50"' in open(page).read()  # keyboard accessible
    shares = []
    for value in (None, 25, 80):
        if value is not None:  # what a drag or an arrow key does: the input's value changes, an input event follows
            add_to_page(page, "<script>var input = document.querySelector('.slider input'); "
                              f"input.value = {value}; input.dispatchEvent(new Event('input', {{bubbles: true}}));"
                              '</script>')
        shot = screenshot(chromium, f'file://{page}', tmp_path / 'profile', tmp_path / f'{value}.png', 900, 900)
        left, right = colour_boxes(shot, [red, blue], tolerance=6)
        shares.append((left[3] - left[1] + 1) / (right[3] - left[1] + 1))
    assert shares == pytest.approx([0.5, 0.25, 0.8], abs=0.015), shares


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
        np.testing.assert_array_equal(heat, contrast_heatmap(expected.adjusted, expected.mask.shape, expected.mask))
        plain = read_image(os.path.join(run_root, 'report', 'gan', f'{name}.png'))  # the slider's GAN-SR picture
        np.testing.assert_array_equal(plain, read_image(str(tmp / 'gan' / f'{name}.png')))
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
        for part in record['part_list']:
            x0, y0, x1, y1 = part['crop_window']
            assert x1 - x0 == y1 - y0 == min(expected.mask.shape)  # a square, as large as the 64x80 image allows
            assert set(part['crops']) == {'gan', 'gan_plain', 'mse'}  # no LR image in this mode
    pages = [open(os.path.join(run_root, page), encoding='utf-8').read() for page in ('index.html', 'page-2.html')]
    assert not os.path.exists(os.path.join(run_root, 'page-3.html'))
    first = pages[0]
    assert first.count('<article') == 2 and pages[1].count('<article') == 1
    assert '<th>threshold</th><td colspan="1">0.7</td>' in first and '<th>images examined</th>' in first
    assert '<th>min_area</th><td colspan="1">50 px</td>' in first and 'segformer' in first
    assert 'Artifact area per class (ADE20K)' in first and first.count('class="threshold-plot"') == 1
    for page, rows_on_page in zip(pages, (2, 1)):  # a colour bar under each heat map; a slider per image
        assert page.count('<use href="#scale-heat"/>') == rows_on_page and 'class="classes"' in page
        assert page.count('<figure class="compare" ') == rows_on_page and '<symbol id="scale-heat"' in page
    assert 'adjusted contrast (thresholded for the mask), mask outlined in white' in first
    assert 'contrast c' not in first and 'class="warnings"' not in first


def test_detect_report_loads_in_a_browser(chromium, segmented_detect_run, tmp_path):
    run_root = segmented_detect_run[0]
    for page, rows_on_page in (('index.html', 2), ('page-2.html', 1)):
        for width in (1400, 900):
            body, _ = load_in_browser(chromium, os.path.join(run_root, page), tmp_path / 'profile', width)
            assert 'data-ready="1"' in body and 'data-images-broken="0"' in body and 'data-errors' not in body, body
            assert marker(body, 'data-narrowest-panel') >= 320 and marker(body, 'data-panels') > 0, body
            assert marker(body, 'data-colour-bars') == rows_on_page, body


def test_test_report_has_the_summary_table_difference_maps_sliders_and_parts(tmp_path):
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
    assert text.count('<use href="#scale-heat"/>') == 2 * 2 and text.count('<use href="#scale-diff"/>') == 2
    assert text.count('<figure class="compare" ') == 2
    assert (f'<th>texture-difference reduction (pooled)</th><td colspan="2">{summary["texture_reduction"]:.3f}</td>'
            in text)  # beside the removal rate, and among each image's facts
    records = {}
    for name in ('one', 'two'):
        diff = read_image(str(run_root / 'report' / 'diff' / f'{name}.png'))[..., ::-1]
        original, finetuned = (load_rgb255(str(run_root / f'sr_{role}' / f'{name}.png'))
                               for role in ('gan', 'finetuned'))
        np.testing.assert_array_equal(diff, difference_map(original, finetuned))
        for role in ('gan', 'finetuned'):  # the slider's plain pictures, in the run folder
            np.testing.assert_array_equal(read_image(str(run_root / 'report' / role / f'{name}.png')),
                                          read_image(str(run_root / f'sr_{role}' / f'{name}.png')))
        thumb = f'report/thumbs/diff/{name}.jpg'
        assert thumb in text and os.path.isfile(run_root / thumb)
        with open(run_root / 'records' / f'{name}.json') as f:
            records[name] = json.load(f)
    parts = [part for record in records.values() for part in record['part_list'] + record['added_part_list']
             if part['crops']]
    assert parts, 'the tiny models should leave artifacts to crop'
    for part in parts:  # before and after side by side on the page, the LR crop and a slider in the zoom
        assert set(part['crops']) == {'before', 'before_plain', 'after', 'after_plain', 'mse', 'lr'}
        before, after = (html.escape(quote(part['crops'][label])) for label in ('before', 'after'))
        assert re.search(rf'<div class="pair"><figure style="width:\d+px"><a href="#zoom-\d-\d+"><img src="{before}"'
                         rf'[^<]*</a><figcaption>original GAN-SR</figcaption></figure><figure [^>]*><a [^>]*>'
                         rf'<img src="{after}"', text), part
    assert text.count('<div class="zoom" id="zoom-') == len(parts)
    assert ('class="warnings"' in text) == (removal_warning(summary) is not None)
    # the texture-difference reduction of the evaluation's records (issue 15) is shown where a record has it
    records['one']['score']['texture_reduction'] = 0.25
    parts[0]['texture_reduction'] = 0.5
    text = render_report('t', [FinetuneEvalRun.report_row(record) for record in records.values()])
    assert text.count('texture-difference reduction: <b>0.25</b>') == 1
    assert text.count('texture-difference reduction: <b>0.5</b>') == 2  # the part's card and zoom
    # the fine-tuned model given as the original: both warnings at the top of the page
    opt = yaml.safe_load((tmp_path / 'test.yml').read_text())
    opt['name'], opt['path']['pretrain_network_finetuned'] = 'same', opt['path']['pretrain_network_gan']
    (tmp_path / 'same.yml').write_text(yaml.safe_dump(opt))
    result = run_command(['desra/test.py', '-opt', str(tmp_path / 'same.yml')])
    assert result.returncode == 0, result.stderr
    with open(tmp_path / 'results' / 'same' / 'finetune_eval.json') as f:
        summary = json.load(f)['summary']
    text = open(tmp_path / 'results' / 'same' / 'index.html', encoding='utf-8').read()
    warnings = re.search(r'<div class="warnings" role="alert">(.*?)</div>', text).group(1)
    assert 'network_gan and network_finetuned have the same weights' in warnings  # StageOneRun.misuse_warnings
    assert html.escape(removal_warning(summary)) in warnings and text.index(warnings) < text.index('<h3>Summary')
