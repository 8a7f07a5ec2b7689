"""Overlapped batches: the prefetching loader, the background writer, and LR-mode detection giving the same files
serially and overlapped."""
import json
import os
import threading

import numpy as np
import pytest
import yaml
from conftest import TINY_RRDB_OPT, save_tiny_checkpoints, write_random_images

from desra.batch.pipeline import BackgroundWriter, Prefetcher, pipeline_options
from desra.config.options import parse_command_options
from desra.detection.detect_run import DetectRun
from desra.io.images import read_image, write_image, write_text


def test_prefetcher_loads_ahead_in_order_on_another_thread():
    threads, gate = [], threading.Semaphore(0)

    def load(item):
        threads.append(threading.current_thread().name)
        gate.release()
        return item * 10

    prefetcher = Prefetcher(load, [1, 2, 3, 4], depth=2)
    for _ in range(3):  # three loads finish before anything is asked for: two waiting, one being handed over
        assert gate.acquire(timeout=10)
    assert [prefetcher.get(item) for item in (1, 2, 3, 4)] == [10, 20, 30, 40]
    prefetcher.close()
    assert set(threads) == {'desra-prefetch'}


def test_prefetcher_errors_belong_to_their_item():
    def load(item):
        if item == 2:
            raise ValueError(f'image {item} is broken')
        return item

    prefetcher = Prefetcher(load, [1, 2, 3], depth=1)
    assert prefetcher.get(1) == 1
    with pytest.raises(ValueError, match='image 2 is broken'):
        prefetcher.get(2)
    assert prefetcher.get(3) == 3
    prefetcher.close()


def test_prefetcher_close_stops_a_blocked_loader():
    prefetcher = Prefetcher(lambda item: item, range(100), depth=1)
    assert prefetcher.get(0) == 0
    prefetcher.close()  # the thread is waiting to hand over more results: it must end
    assert not prefetcher._thread.is_alive()


def test_writer_writes_in_order_and_fails_one_image_only(tmp_path):
    (tmp_path / 'blocker').write_text('a file where a folder should be')
    writer = BackgroundWriter(max_pending=2)
    img = np.full((4, 5), 7, np.uint8)
    with writer.deferring('bad'):
        write_image(str(tmp_path / 'blocker' / 'maps.png'), img)  # fails: its folder cannot be made
        write_text(str(tmp_path / 'bad_mask.txt'), 'written last')  # dropped: the image failed
    with writer.deferring('good'):
        write_image(str(tmp_path / 'good.png'), img)
        img[:] = 0  # the caller may reuse its array: the writer wrote a copy
        write_text(str(tmp_path / 'good.txt'), 'done')
    writer.close()
    assert [failure.name for failure in writer.failures] == ['bad']
    assert str(tmp_path / 'blocker' / 'maps.png') in writer.failures[0].message
    assert not (tmp_path / 'bad_mask.txt').exists()
    assert (read_image(str(tmp_path / 'good.png')) == 7).all() and (tmp_path / 'good.txt').read_text() == 'done'
    assert not [name for name in os.listdir(tmp_path) if '.tmp' in name]


def test_writer_without_queue_writes_at_once(tmp_path):
    writer = BackgroundWriter(max_pending=0)
    with writer.deferring('a'):
        write_text(str(tmp_path / 'a.txt'), 'now')
        assert (tmp_path / 'a.txt').read_text() == 'now'
    writer.close()


@pytest.mark.parametrize('pipeline, message', [({'prefetch': -1}, 'pipeline:prefetch must be an integer >= 0'),
                                               ({'write_queue': 1.5}, 'pipeline:write_queue must be an integer'),
                                               ({'threads': 2}, 'pipeline:threads is not an option')])
def test_pipeline_options_are_checked(pipeline, message):
    with pytest.raises(ValueError, match=message):
        pipeline_options({'pipeline': pipeline})
    assert pipeline_options({}) == {'prefetch': 2, 'write_queue': 8}


def run_files(run_root):
    """Every output file of a run but the log, as bytes, with the run's own folder written ``RUN``; in the JSON
    records, ``made_with`` (which holds the SR results' modification times) is left out."""
    files = {}
    for folder, _, names in os.walk(run_root):
        for name in names:
            if not name.endswith('.log'):
                path = os.path.join(folder, name)
                data = open(path, 'rb').read().replace(str(run_root).encode(), b'RUN')
                if os.path.relpath(path, run_root).startswith('records' + os.sep):
                    record = json.loads(data)
                    assert record.pop('made_with')['inputs']
                    data = json.dumps(record).encode()
                files[os.path.relpath(path, run_root)] = data
    return files


def test_lr_mode_detection_overlapped_writes_what_serial_writes(tmp_path):
    """LR mode with a loader thread making the SR results and a writer thread: the same files as a serial run
    (one LR image unreadable: it fails alone in both)."""
    write_random_images(str(tmp_path / 'lr'), ('a', 'b', 'sub/c', 'd'), shape=(14, 16, 3))
    (tmp_path / 'lr' / 'broken.png').write_bytes(b'not a png')
    checkpoints = save_tiny_checkpoints(str(tmp_path), ('mse', 'gan'))
    opt = {'name': 'run', 'num_gpu': 0, 'manual_seed': 0, 'scale': 4,
           'datasets': {'detect': {'dataroot_lq': str(tmp_path / 'lr')}},
           'network_mse': TINY_RRDB_OPT, 'network_gan': TINY_RRDB_OPT,
           'path': {'pretrain_network_mse': checkpoints['mse'], 'pretrain_network_gan': checkpoints['gan']},
           'detector': {'min_area': 10, 'segmenter': {'type': 'none'}}}
    (tmp_path / 'detect.yml').write_text(yaml.safe_dump(opt))
    statuses = {}
    for mode, force in (('serial', 'pipeline:prefetch=0 pipeline:write_queue=0'),
                        ('overlapped', 'pipeline:prefetch=2 pipeline:write_queue=3')):
        args = ['-opt', str(tmp_path / 'detect.yml'), '--force_yml', f'path:results_root={tmp_path / mode}',
                *force.split()]
        statuses[mode] = DetectRun(parse_command_options('detect', 'detect', args=args)[0]).run()
    serial, overlapped = run_files(tmp_path / 'serial' / 'run'), run_files(tmp_path / 'overlapped' / 'run')
    assert statuses == {'serial': 1, 'overlapped': 1}
    assert sorted(overlapped) == sorted(serial)
    assert {'masks/a.png', 'masks/sub/c.png', 'sr_gan/d.png', 'summary.csv', 'index.html'} <= set(serial)
    assert 'masks/broken.png' not in serial
    assert overlapped == serial
