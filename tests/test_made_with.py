"""desra.io.records: what tells a rerun that an output's settings or inputs changed."""
import os

from desra.inference.sr_network import network_made_with
from desra.io.records import content_identity, describe_changes, read_json_record


def test_weights_copied_with_their_time_are_told_apart_by_content(tmp_path):
    first, second = tmp_path / 'a.pth', tmp_path / 'b.pth'
    first.write_bytes(b'\0' * 1000)
    second.write_bytes(b'\1' * 1000)
    os.utime(second, ns=(os.stat(first).st_atime_ns, os.stat(first).st_mtime_ns))  # as cp -p leaves it
    assert content_identity(first)[0] == content_identity(second)[0] == 1000
    assert content_identity(first) != content_identity(second)
    assert content_identity(tmp_path / 'absent.pth') is None and content_identity(None) is None
    opt = {'network_g': {'type': 'auto'}, 'path': {'pretrain_network_g': str(first)}}
    before = network_made_with(opt, 'g', False)
    first.write_bytes(b'\1' * 1000)  # new weights under the same name and size
    os.utime(first, ns=(os.stat(second).st_atime_ns, os.stat(second).st_mtime_ns))
    after = network_made_with(opt, 'g', False)
    assert [change.split(':')[0] for change in describe_changes(before, after)] == ['weights']


def test_the_record_says_the_precision_the_network_ran_in():
    """``tile: half: true`` asks for fp16, which runs on CUDA only: on the CPU the record says fp32."""
    opt = {'network_g': {'type': 'auto'}, 'path': {'pretrain_network_g': None}, 'tile': {'tile_size': 0, 'half': True}}
    assert network_made_with(opt, 'g', False)['tile'] == {'tile_size': 0, 'half': False}
    assert network_made_with(opt, 'g', True)['tile']['half'] is True
    assert opt['tile']['half'] is True  # the options are not changed


def test_a_damaged_record_counts_as_none(tmp_path):
    (tmp_path / 'good.json').write_text('{"a": 1}')
    (tmp_path / 'cut.json').write_text('{"a": ')
    assert read_json_record(tmp_path / 'good.json') == {'a': 1}
    assert read_json_record(tmp_path / 'cut.json') is None and read_json_record(tmp_path / 'absent.json') is None
