"""Which reference a detection compares the GAN model with: its MSE ``parent``, a reference ``twin`` derived from the
GAN itself (``ReferenceTwinModel``; its checkpoint records ``reference: {kind: twin, twin_of: <GAN checkpoint>}``), or
a ``generic`` PSNR-oriented model of another family (RealESRNet_x4plus for a GAN that is no Real-ESRGAN, a PSNR
SwinIR, ...), whose masks need re-calibrating (``scripts/calibrate_semantic_weights.py`` and ``detector:
threshold``; README, "A model with no MSE parent").
"""
from desra.weights.checkpoint import is_safetensors, load_checkpoint_file

#: The kinds of reference, and what each means, for the log and the report.
REFERENCE_KINDS = {
    'parent': 'the MSE model the GAN was fine-tuned from',
    'twin': 'a reference twin derived from the GAN itself by pixel-loss training',
    'generic': 'a PSNR-oriented model of another family (re-calibrate the threshold and class weights for it)',
}


def recorded_reference(path):
    """The ``reference`` record a checkpoint holds (``{'kind': 'twin', 'twin_of': ..., 'twin_mode': ...}``), or None
    (no record, a ``.safetensors`` file, or no file)."""
    if not path or is_safetensors(path):
        return None
    try:
        record = load_checkpoint_file(path).get('reference')
    except (OSError, ValueError, AttributeError):
        return None
    return record if isinstance(record, dict) else None


def reference_of(opt, lq_mode=True):
    """The reference of a detect / test run: ``(kind, description)`` for its log and report.

    Args:
        opt (dict): The options: ``reference`` (a kind of :data:`REFERENCE_KINDS`, or ``auto`` (default): a twin
            when the MSE checkpoint records it, else the parent) and ``path: pretrain_network_mse``.
        lq_mode (bool): The MSE-SR results are made by ``network_mse`` (else read from ``dataroot_mse``).

    Returns:
        tuple[str, str]: The kind (``parent``, ``twin``, ``generic``) and a line saying what it is and where from.
    """
    path = (opt.get('path') or {}).get('pretrain_network_mse') if lq_mode else None
    record = recorded_reference(path)
    kind = opt.get('reference') or 'auto'
    if kind == 'auto':
        kind = 'twin' if record and record.get('kind') == 'twin' else 'parent'
    source = path or 'the MSE-SR images of dataroot_mse'
    twin_of = f', twin of {record["twin_of"]}' if kind == 'twin' and record and record.get('twin_of') else ''
    return kind, f'{kind}: {REFERENCE_KINDS[kind]} ({source}{twin_of})'
