"""What made an output: the settings and input files that shape it, recorded beside it (``made_with``), so that a
rerun with other options, weights or inputs redoes it instead of keeping a result that no longer matches."""
import json
import os


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


def network_made_with(opt, role):
    """What shapes the SR results of ``network_<role>`` (as JSON reads it back): its network options, checkpoint
    (path and :func:`file_identity`), param key, scale and tile settings (``tile``)."""
    paths = opt.get('path') or {}
    weights = paths.get(f'pretrain_network_{role}')
    return json_form({'network': opt.get(f'network_{role}'), 'weights': [weights, file_identity(weights)],
                      'param_key': paths.get(f'param_key_{role}', 'auto'), 'scale': opt.get('scale'),
                      'tile': opt.get('tile')})
