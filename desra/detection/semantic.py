"""Step 3 of DeSRA's detection: the semantic-aware adjustment of the contrast map (Eq. 9 of the paper).

Some classes (grass, trees, water) are textured in GAN-SR output by nature, so their contrast ``c`` is low without
being an artifact. DeSRA splits ``D = 1 - c`` into ``NUM_BINS`` = 20 equal intervals and records, per ADE20K class,
the interval index ``idx`` below which 85% of the class's pixels fall. The class weight is ``20 / (20 - idx)``
(1 for ``idx = 0``); the adjusted contrast is ``clip(c * weight, 0, 1)``.

The interval table is a text file with one ``class name--idx`` line per class, sorted by name
(``desra_ade20k_class_intervals.txt``, shipped with the package). Class names are those of ADE20K's 150 labels,
in label order, in ``ade20k_classes.txt``.
"""
import os
from pathlib import Path

import numpy as np

from desra.io.images import write_text

#: Number of equal intervals of ``D = 1 - c`` in ``[0, 1]``.
NUM_BINS = 20
#: The interval table of the DeSRA release (calibrated on its GAN-SR results).
DEFAULT_INTERVAL_FILE = Path(__file__).with_name('desra_ade20k_class_intervals.txt')
#: ADE20K class names; line ``i`` names label ``i``.
ADE20K_CLASSES_FILE = Path(__file__).with_name('ade20k_classes.txt')


def load_class_names(path=ADE20K_CLASSES_FILE):
    """The class names, one per line; line ``i`` is label ``i``.

    Returns:
        list[str]: 150 names for ADE20K.
    """
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def read_class_intervals(path=DEFAULT_INTERVAL_FILE, class_names=None):
    """Read an interval table (``class name--idx`` lines).

    Args:
        path (str | Path): The table.
        class_names (list[str] | None): The known classes (default: ADE20K's).

    Returns:
        dict[str, int]: Interval index in ``[0, NUM_BINS - 1]`` for every class of ``class_names``.

    Raises:
        FileNotFoundError / ValueError: The file is missing, a line is malformed, names an unknown class, repeats
            a class or has an index out of range, or a class has no line. The message names the file (and line).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such class interval file')
    class_names = load_class_names() if class_names is None else class_names
    known = set(class_names)
    intervals = {}
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            name, sep, idx = line.rpartition('--')
            where = f'{path}, line {line_no} ("{line}")'
            if not sep or not idx.strip().isdigit():
                raise ValueError(f'{where}: expected "class name--interval index"')
            name, idx = name.strip(), int(idx)
            if name not in known:
                raise ValueError(f'{where}: unknown class "{name}"')
            if name in intervals:
                raise ValueError(f'{where}: class "{name}" is listed twice')
            if idx >= NUM_BINS:
                raise ValueError(f'{where}: interval index must be in [0, {NUM_BINS - 1}]')
            intervals[name] = idx
    missing = [name for name in class_names if name not in intervals]
    if missing:
        raise ValueError(f'{path}: no interval for {len(missing)} classes: {", ".join(missing[:10])}')
    return intervals


def write_class_intervals(path, intervals):
    """Write an interval table as ``class name--idx`` lines sorted by name (the shipped file's format)."""
    write_text(path, ''.join(f'{name}--{intervals[name]}\n' for name in sorted(intervals)))


def load_class_weights(path=None):
    """Per-label weights ``NUM_BINS / (NUM_BINS - idx)`` of an interval table.

    Args:
        path (str | Path | None): Interval table (default: the shipped ``desra_ade20k_class_intervals.txt``).

    Returns:
        np.ndarray: float64, shape (150,): the weight of ADE20K label ``i`` at index ``i``, each in ``[1, 20]``.
    """
    class_names = load_class_names()
    intervals = read_class_intervals(DEFAULT_INTERVAL_FILE if path is None else path, class_names)
    return np.array([NUM_BINS / (NUM_BINS - intervals[name]) for name in class_names], dtype=np.float64)


def semantic_weight_map(labels, class_weights):
    """Look up the weight of every pixel's class.

    Args:
        labels (np.ndarray): int, shape (h, w): label indices (crop it to the contrast map's valid region first).
        class_weights (np.ndarray): float, shape (num_classes,), from :func:`load_class_weights`.

    Returns:
        np.ndarray: float64, shape (h, w).

    Raises:
        ValueError: A label is negative or has no weight.
    """
    class_weights = np.asarray(class_weights, dtype=np.float64)
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_weights)):
        raise ValueError(f'labels must lie in [0, {len(class_weights) - 1}] (one weight per class), '
                         f'found values in [{labels.min()}, {labels.max()}]')
    return class_weights[labels]
