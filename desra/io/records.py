"""The records and tables written beside outputs.

* ``made_with``: the settings and input files that shape an output, recorded beside it, so that a rerun with other
  options, weights or inputs redoes it instead of keeping a result that no longer matches;
* JSON records and CSV tables of figures (:func:`json_ready`, :func:`csv_text`).
"""
import csv
import functools
import hashlib
import io
import json
import math
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


def json_ready(value):
    """``value`` with every NaN or infinite float (nested in dicts and lists) replaced by None (JSON ``null``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def csv_text(fields, rows):
    """CSV text with a header line (``fields``) and one line per dict of ``rows`` (other keys left out)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_output_records(path):
    """What an output folder's record (:class:`OutputRecords`, ``.made_with.jsonl``) holds.

    Returns:
        tuple[dict, dict, bool]: settings key -> ``made_with``; ``(input rel path, suffix)`` -> settings key of the
        output made last from that input; whether the file ends in a line a kill cut short (no file: empty, False).
    """
    settings, outputs = {}, {}
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        text = ''
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line a kill cut short
        if isinstance(entry, dict) and 'made_with' in entry:
            settings[entry.get('key')] = entry['made_with']
        elif isinstance(entry, dict) and isinstance(entry.get('input'), str):
            outputs[(entry['input'], entry.get('suffix', ''))] = entry.get('key')
    return settings, outputs, bool(text) and not text.endswith('\n')


class OutputRecords:
    """What made each output of a folder: an append-only log, ``<output_root>/.made_with.jsonl``.

    Before an output is written, a line ``{"input": rel_path, "suffix": suffix, "key": k}`` is appended, where ``k``
    names the settings (``{"key": k, "made_with": {...}}``, logged once per settings). The last line of an output
    wins; a line cut short by a kill is passed over. Because the line comes first and the image is written
    atomically, every output in the folder that has a line was made with that line's settings, whatever was
    interrupted; an output without a line was not made by this command (the user's file, or an older DeSRA).
    Appending a line is O(1), so a folder of 10,000 images costs no rewrites of a growing file.

    Args:
        output_root (str): The output folder.
        made_with (dict): What shapes the outputs now (JSON-like, e.g.
            :func:`~desra.inference.sr_network.network_made_with` plus the resize and alpha settings).

    Raises:
        ValueError: The record is a link or a folder (it is never written through a link).
    """

    FILE_NAME = '.made_with.jsonl'

    def __init__(self, output_root, made_with):
        self.path = os.path.join(output_root, self.FILE_NAME)
        if os.path.islink(self.path) or os.path.isdir(self.path):
            raise ValueError(f'{self.path}: a link or a folder where infer keeps its record of the outputs; it must '
                             'be a plain file: remove it')
        self.made_with = json_form(made_with)
        self.key = hashlib.sha256(json.dumps(self.made_with, sort_keys=True).encode()).hexdigest()[:16]
        self.settings, self.outputs, self.ends_cut = read_output_records(self.path)

    def made_otherwise(self, rel_path, suffix=''):
        """None when the current settings made the output of input ``rel_path``; else why not: the changed settings
        (:func:`describe_changes`), or ``''`` when nothing recorded it."""
        key = self.outputs.get((rel_path, suffix))
        if key is None:
            return ''
        if key == self.key:
            return None
        return '; '.join(describe_changes(self.settings.get(key), self.made_with)) or 'other settings'

    def will_write(self, rel_path, suffix=''):
        """Record that the current settings make the output of ``rel_path`` (call before writing it)."""
        lines = [''] if self.ends_cut else []
        if self.key not in self.settings:
            lines.append(json.dumps({'key': self.key, 'made_with': self.made_with}))
            self.settings[self.key] = self.made_with
        lines.append(json.dumps({'input': rel_path, 'suffix': suffix, 'key': self.key}))
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:  # never through a link: the record is this folder's own file
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o644)
        except OSError as error:
            raise ValueError(f'{self.path}: cannot record the outputs there ({error.strerror}); it must be a plain '
                             'file, not a link or a folder: remove it') from None
        with os.fdopen(fd, 'a', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
        self.ends_cut = False
        self.outputs[(rel_path, suffix)] = self.key
