"""What made an output: the settings and input files that shape it, recorded beside it (``made_with``), so that a
rerun with other options, weights or inputs redoes it instead of keeping a result that no longer matches."""
import functools
import hashlib
import json
import os

from desra.utils.hub import is_hub_id, resolve_weights


def file_identity(path):
    """``[size in bytes, modification time in ns]`` of a file, or None when there is none: what tells a rerun that
    an input changed."""
    try:
        stat = os.stat(path)
    except (OSError, TypeError):
        return None
    return [stat.st_size, stat.st_mtime_ns]


def json_form(value):
    """``value`` as JSON reads it back (tuples become lists, ordered dicts plain dicts), for comparisons."""
    return json.loads(json.dumps(value))


def describe_changes(old, new, prefix=''):
    """The keys whose values differ between two JSON-like dicts, as ``a.b: old -> new`` (``'...'`` for big values).

    Returns:
        list[str]
    """
    changes = []
    old, new = old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            changes += describe_changes(before, after, f'{prefix}{key}.')
        else:
            short = [json.dumps(v) if len(json.dumps(v)) <= 40 else '...' for v in (before, after)]
            changes.append(f'{prefix}{key}: {short[0]} -> {short[1]}')
    return changes


def read_json_record(path):
    """The JSON a record file holds, or None when there is none or it cannot be read (a damaged record counts as no
    record: what it described is made again)."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=32)
def _digest(path, version):
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            sha.update(block)
    return sha.hexdigest()[:16]


def content_identity(path):
    """``[size in bytes, SHA-256 prefix]`` of a weight file, or None when there is none: unlike
    :func:`file_identity` it tells apart two checkpoints of the same size copied with their times (``cp -p``,
    ``rsync -a``). Read once per file version per process (about 0.1 s for a 64 MB checkpoint)."""
    try:
        stat = os.stat(path)
    except (OSError, TypeError):
        return None
    # the cache key includes the change time, which every write moves and no copy tool can set
    return [stat.st_size, _digest(os.fspath(path), (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino))]


def network_made_with(opt, role):
    """What shapes the SR results of ``network_<role>`` (as JSON reads it back): its network options, checkpoint
    (path and :func:`content_identity`; a Hugging Face hub id is resolved to its cached file), param key, scale and
    tile settings (``tile``)."""
    paths = opt.get('path') or {}
    weights = paths.get(f'pretrain_network_{role}')
    local = resolve_weights(weights) if weights and is_hub_id(weights) else weights
    return json_form({'network': opt.get(f'network_{role}'), 'weights': [weights, content_identity(local)],
                      'param_key': paths.get(f'param_key_{role}', 'auto'), 'scale': opt.get('scale'),
                      'tile': opt.get('tile')})
