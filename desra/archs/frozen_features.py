"""Training only the tail of a network, with the frozen body's features computed once (any architecture).

A network whose parameters are partly frozen (``requires_grad`` False) spends most of a training step recomputing the
frozen part on the same inputs. :class:`FrozenFeatures` finds, without knowing the architecture, the outputs of the
frozen modules that the trained part reads, computes them once per training image, and then runs the network with
those modules answering from the store instead of computing:

* candidates: the *maximal* frozen modules that hold parameters (their parent holds trained ones), called once per
  forward pass on inputs that do not depend on a trained parameter (so their output is fixed for a fixed input);
* needed: the candidates whose output is read by an operation outside every candidate (the trained modules, a
  functional ``+`` of a long skip, ...), found by watching every torch operation of one forward pass
  (``TorchFunctionMode``); the other candidates only feed candidates and are skipped.

RRDBNet with its last 2 of 23 blocks and its head trained: ``conv_first``'s output (read by the long skip) and block
20's output are needed; blocks 0-19 only feed block 20. A needed output must be an (N, C, h, w) map at the input's
size (h, w), so that an LR crop of the input crops it the same way; architectures whose frozen part gives other
shapes (tokens, a downscaled map) cannot use this (:meth:`FrozenFeatures.probe` says so) and train whole.
"""
import contextlib
import re

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten


def select_trained_params(net, patterns=None, fraction=0.1):
    """Freeze every parameter of ``net`` but the tail, and return the names of those left trainable.

    Args:
        net (nn.Module): The network (its parameters' ``requires_grad`` is set here).
        patterns (list[str] | None): Regular expressions (``re.match``) of the parameter names to train; None: the
            last parameter tensors in the network's order that hold ``fraction`` of all its elements (at least one).
        fraction (float): Share of the parameters (by element count) trained when ``patterns`` is None, in (0, 1].

    Returns:
        list[str]: The trained parameters' names.

    Raises:
        ValueError: A pattern that matches no parameter (the message gives a name that exists).
    """
    params = dict(net.named_parameters())
    if patterns:
        trained = set()
        for pattern in patterns:
            matched = {name for name in params if re.match(pattern, name)}
            if not matched:
                raise ValueError(f'train:trained_params: {pattern!r} matches no parameter of network_g '
                                 f'(its last is {next(reversed(params))})')
            trained |= matched
    else:
        budget, trained = fraction * sum(p.numel() for p in params.values()), set()
        for name in reversed(params):
            if trained and sum(params[n].numel() for n in trained) >= budget:
                break
            trained.add(name)
    for name, param in params.items():
        param.requires_grad_(name in trained)
    return [name for name in params if name in trained]


class _Consumers(TorchFunctionMode):
    """Records which stored outputs (by ``id``) an operation outside every candidate module reads."""

    def __init__(self, outputs, depth):
        super().__init__()
        self.outputs, self.depth, self.read = outputs, depth, set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.depth[0] == 0:
            for value in tree_flatten((args, kwargs))[0]:
                if isinstance(value, torch.Tensor) and id(value) in self.outputs:
                    self.read.add(self.outputs[id(value)][0])
        return func(*args, **kwargs)


class FrozenFeatures:
    """The frozen part of ``net`` computed once per input, and the network run from those features (module
    docstring). Call :meth:`probe` once (it finds what to store), then :meth:`compute` per training input and run
    the network inside :meth:`replaying` with crops of what :meth:`compute` returned.

    Args:
        net (nn.Module): The network, its trained parameters marked by ``requires_grad``
            (:func:`select_trained_params`).
    """

    def __init__(self, net):
        self.net = net
        frozen = {name for name, module in net.named_modules()
                  if any(True for _ in module.parameters()) and not any(p.requires_grad for p in module.parameters())}
        self.candidates = {name: module for name, module in net.named_modules()
                           if name in frozen and name.rpartition('.')[0] not in frozen and name != ''}
        self.needed = []

    def _hooks(self, on_output):
        """Forward hooks on every candidate: ``on_output(name, inputs, output)`` after it ran; ``depth[0]`` counts
        the candidates running now. Returns (handles, depth)."""
        depth, handles = [0], []
        for name, module in self.candidates.items():
            def pre(_module, _inputs):
                depth[0] += 1

            def post(_module, inputs, output, name=name):
                on_output(name, inputs, output)  # still counted inside: what it reads of its tensors is no use
                depth[0] -= 1
            handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
        return handles, depth

    def probe(self, lq):
        """Find the candidates whose outputs the trained part reads (:attr:`needed`), from one forward pass with
        gradients on ``lq`` (1, 3, h, w).

        Raises:
            ValueError: The network has no frozen part to store, or a needed output is not an (N, C, h, w) map at
                the input's size (the message names the module and its output's shape).
        """
        outputs, calls, independent = {}, {}, set()

        def on_output(name, inputs, output):
            calls[name] = calls.get(name, 0) + 1
            fixed = not any(isinstance(t, torch.Tensor) and t.requires_grad for t in tree_flatten(inputs)[0])
            if fixed and isinstance(output, torch.Tensor) and not output.requires_grad:
                outputs[id(output)] = (name, output)  # the tensor is kept alive, so its id is not reused
                independent.add(name)
        handles, depth = self._hooks(on_output)
        consumers = _Consumers(outputs, depth)
        try:
            with torch.enable_grad(), consumers:
                self.net(lq)
        finally:
            for handle in handles:
                handle.remove()
        stored = {name for name in independent if calls[name] == 1}
        self.needed = [name for name in self.candidates if name in consumers.read and name in stored]
        self.skipped = [name for name in self.candidates if name in stored and name not in consumers.read]
        if not self.needed:
            raise ValueError('train:twin_mode tail: the trained parameters read no frozen part of network_g (nothing '
                             'to compute once); train the whole network (twin_mode: whole) or fewer parameters')
        shapes = {name: output.shape for name, output in outputs.values()}
        for name in self.needed:
            shape = shapes[name]
            if len(shape) != 4 or tuple(shape[-2:]) != tuple(lq.shape[-2:]):
                raise ValueError(f'train:twin_mode tail: the frozen module {name} of network_g gives a '
                                 f'{tuple(shape)} output for a {tuple(lq.shape)} input, not a map at the input\'s '
                                 'size that crops with it; this architecture trains whole (twin_mode: whole)')
        return self.needed

    @torch.no_grad()
    def compute(self, lq):
        """The needed features of ``lq`` (N, 3, h, w): ``{module name: (N, C, h, w) tensor}`` (one forward pass)."""
        features = {}

        def on_output(name, _inputs, output):
            if name in self.needed:
                features[name] = output.detach()
        handles, _ = self._hooks(on_output)
        try:
            self.net(lq)
        finally:
            for handle in handles:
                handle.remove()
        return features

    @contextlib.contextmanager
    def replaying(self, features):
        """Run ``net`` with every stored candidate answering from ``features`` (a batch, as :meth:`compute` gives,
        cropped alike) instead of computing; the skipped candidates return None (only stored ones read them)."""
        replaced = []
        try:
            for name in [*self.needed, *self.skipped]:
                module = self.candidates[name]
                module.forward = lambda *args, value=features.get(name), **kwargs: value  # an instance attribute
                replaced.append(module)
            yield
        finally:
            for module in replaced:
                del module.forward  # the class's forward again
