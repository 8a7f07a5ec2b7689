"""The visual report: part severity, pictures, the HTML page, and the page in a real browser (Debian's chromium)."""
import html
import os
import re
import shutil
import subprocess
from urllib.parse import quote, unquote

import numpy as np
import pytest

from desra.report import (ADE20K_PALETTE, Panel, PartView, ReportPictures, ReportRow, colorize_labels,
                          contrast_heatmap, crop_box, measure_parts, outline_mask, render_report, write_report)
from desra.utils.img_io import read_image

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


def make_report(folder):
    """Write a two-image report with real pictures under ``folder``; return the page path and the pictures."""
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
        panels = [Panel('MSE-SR', pictures.image('mse', name, mse)),
                  Panel('heat', pictures.heatmap('heat', name, adjusted, mask.shape))]
        views = [PartView(f'part {k}', part.severity, [('area', part.area)],
                          [Panel('GAN-SR', crop['gan']), Panel('MSE-SR', crop['mse'])])
                 for k, (part, crop) in enumerate(zip(parts, crops), 1)]
        rows.append(ReportRow(name, sum(part.severity for part in parts), [('size', '70x60')], panels, views))
    page = os.path.join(str(folder), 'index.html')
    write_report(page, 'test report', rows, [('images', 2)], ['a note'])
    return page, rows


def test_page_lists_worst_first_with_relative_pictures_and_zoom_targets(tmp_path):
    page, rows = make_report(tmp_path)
    text = open(page, encoding='utf-8').read()
    assert text.index('sub/&lt;worst&gt;') < text.index('<h2>mild</h2>')  # escaped, and the worst comes first
    assert 'Severity of an artifact part = mean(1 - adjusted)' in text
    for src in re.findall(r'src="([^"]+)"', text):
        path = unquote(html.unescape(src))  # file names are percent-encoded in the page
        assert not os.path.isabs(path) and os.path.isfile(os.path.join(str(tmp_path), path)), path
    links = set(re.findall(r'href="#(zoom-[0-9-]+)"', text))
    assert links == set(re.findall(r'<div class="zoom" id="(zoom-[0-9-]+)"', text)) == {'zoom-1-1', 'zoom-2-1'}
    crop = read_image(os.path.join(str(tmp_path), rows[0].parts[0].crops[0].src))
    assert crop.shape == (48, 48, 3)  # the 10x20 part with context, grown to the 48-px minimum


def test_render_report_shows_failures():
    from desra.utils.image_names import Failure
    text = render_report('t', [], failures=[Failure('x', '/data/x.png: not a readable image')])
    assert '1 image(s) skipped' in text and 'x: /data/x.png: not a readable image' in text


@pytest.fixture(scope='module')
def chromium():
    """Path of a working chromium; installed with apt-get when absent (as root); the tests skip if impossible."""
    path = shutil.which('chromium')
    if path is None and shutil.which('apt-get') and os.geteuid() == 0:
        subprocess.run('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium',
                       shell=True, capture_output=True, timeout=900)
        path = shutil.which('chromium')
    if path is None:
        pytest.skip('chromium is not installed and could not be installed with apt-get (needs root and Debian)')
    version = subprocess.run([path, '--version'], capture_output=True, text=True, timeout=60)
    if version.returncode != 0:
        pytest.skip(f'chromium does not run here: {version.stderr.strip()[:300]}')
    return path


def load_in_browser(chromium, page, profile):
    """The DOM of ``page`` after it loaded in headless chromium; returns the <body> start tag."""
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f'--user-data-dir={profile}', '--dump-dom',
                             f'file://{page}'], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return re.search(r'<body[^>]*>', result.stdout).group(0), result.stdout


def test_page_shows_every_picture_in_a_browser(chromium, tmp_path):
    page, _ = make_report(tmp_path / 'report')
    body, _ = load_in_browser(chromium, page, tmp_path / 'profile')
    total = len(re.findall(r'<img ', open(page, encoding='utf-8').read()))
    assert 'data-ready="1"' in body, body
    assert f'data-images-loaded="{total}"' in body and 'data-images-broken="0"' in body, body
    assert 'data-errors' not in body, body


def test_browser_check_reports_a_missing_picture(chromium, tmp_path):
    page, rows = make_report(tmp_path / 'report')
    missing = rows[0].panels[0].src
    os.remove(os.path.join(str(tmp_path / 'report'), missing))
    body, dom = load_in_browser(chromium, page, tmp_path / 'profile')
    assert 'data-images-broken="1"' in body, body
    assert re.search(rf'id="load-status"[^>]*>1 of \d+ pictures could not be loaded: {re.escape(quote(missing))}',
                     html.unescape(dom))
