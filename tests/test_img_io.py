"""Image files: decode/encode round trips for every depth and layout, atomic writes, listing, errors."""
import os

import cv2
import numpy as np
import pytest

from desra.io.images import (ImageReadError, atomic_output, decode_image, decoded_rgb255, encode_image, list_images,
                             load_rgb255, read_image, write_image)


@pytest.mark.parametrize('shape,dtype', [((9, 7), np.uint8), ((9, 7, 3), np.uint8), ((9, 7, 4), np.uint8),
                                         ((9, 7, 3), np.uint16), ((9, 7), np.uint16)])
def test_decode_encode_round_trip(shape, dtype):
    img = np.random.RandomState(0).randint(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
    decoded = decode_image(img)
    assert decoded.rgb.shape == (9, 7, 3) and decoded.rgb.dtype == np.float32
    assert decoded.is_gray == (len(shape) == 2)
    assert (decoded.alpha is not None) == (len(shape) == 3 and shape[2] == 4)
    np.testing.assert_array_equal(encode_image(decoded), img)


def test_decode_is_rgb_and_load_rgb255_scales_16_bit():
    bgr = np.zeros((2, 2, 3), np.uint16)
    bgr[..., 0] = 65535  # blue
    decoded = decode_image(bgr)
    np.testing.assert_array_equal(decoded.rgb[0, 0], [0, 0, 1])
    assert decoded.max_value == 65535
    np.testing.assert_allclose(decoded_rgb255(decoded)[0, 0], [0, 0, 255])  # what load_rgb255 returns for a file


def test_load_rgb255_from_files(tmp_path):
    gray16 = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    cv2.imwrite(str(tmp_path / 'g.png'), gray16)
    rgb = load_rgb255(tmp_path / 'g.png')
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.float64
    np.testing.assert_allclose(rgb[..., 1], gray16 * 255.0 / 65535, atol=1e-4)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(ImageReadError, match='absent.png: no such file'):
        read_image(tmp_path / 'absent.png')
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    with pytest.raises(ImageReadError, match='bad.png: not a readable image'):
        read_image(tmp_path / 'bad.png')


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / 'out' / 'x.png'
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half')
            raise RuntimeError('interrupted')
    assert not target.exists() and os.listdir(tmp_path / 'out') == []
    write_image(target, np.full((3, 3), 7, np.uint8))
    np.testing.assert_array_equal(read_image(target), np.full((3, 3), 7, np.uint8))
    assert os.listdir(tmp_path / 'out') == ['x.png']


def test_list_images_recurses_sorted_and_can_list_everything(tmp_path):
    for rel in ['b.png', 'a/c.JPG', 'a/.hidden.png', 'notes.txt', '.git/x.png']:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b'')
    assert list_images(tmp_path) == ['a/c.JPG', 'b.png']
    assert list_images(tmp_path, recursive=False) == ['b.png']
    assert list_images(tmp_path, extensions=None) == ['a/c.JPG', 'b.png', 'notes.txt']
    with pytest.raises(FileNotFoundError, match='no such folder'):
        list_images(tmp_path / 'missing')
    with pytest.raises(FileNotFoundError, match='b.png: a file, not a folder'):
        list_images(tmp_path / 'b.png')
