"""A checkpoint composed of a base checkpoint and a part of it retrained elsewhere (the demo's MSE model: the
official RealESRGAN_x4plus with its tail retrained by pixel loss, committed as the tail alone)."""
from desra.weights.checkpoint import load_state_dict, save_checkpoint_file


def compose_checkpoint(base_path, part_path, output_path, part_key='params'):
    """Write ``{'params': base with the tensors of part}`` to ``output_path`` (atomically), in the base's dtypes.

    Args:
        base_path (str): The whole network's checkpoint (``param_key`` auto: ``params_ema`` when present).
        part_path (str): A checkpoint of some of its tensors, under the same names (e.g. fp16 to be small).
        output_path (str): Where the composed checkpoint goes (basicsr's format).
        part_key (str): The key of the part's tensors.

    Returns:
        int: How many tensors came from the part.

    Raises:
        ValueError: A tensor of the part is not in the base, or has another shape (the message names it).
    """
    state, _ = load_state_dict(base_path)
    part, _ = load_state_dict(part_path, param_key=part_key)
    for name, tensor in part.items():
        if name not in state or state[name].shape != tensor.shape:
            found = 'no such tensor' if name not in state else f'shape {tuple(state[name].shape)}'
            raise ValueError(f'{part_path}: tensor {name} {tuple(tensor.shape)} does not fit {base_path} ({found})')
        state[name] = tensor.to(state[name].dtype)
    save_checkpoint_file({'params': state}, output_path)
    return len(part)
