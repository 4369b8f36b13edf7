"""The ``torch.nn`` twin of an nnbasics module: same layers, hyperparameters, names and train/eval mode.

Used by :func:`nnbasics.io.to_torch` (which copies the weights afterwards); torch is passed
in, never imported here, so importing this module does nothing.
"""

from __future__ import annotations

from .. import nn

__all__ = ["build_twin"]


def _conv(tnn, m, cls):
    return cls(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding,
               dilation=m.dilation, groups=m.groups, bias=m.bias is not None)


def _recurrent(tnn, m):
    kw = {"num_layers": m.num_layers, "bias": m.bias, "batch_first": m.batch_first, "dropout": m.dropout,
          "bidirectional": m.bidirectional}
    if isinstance(m, nn.LSTM):
        return tnn.LSTM(m.input_size, m.hidden_size, **kw)
    if isinstance(m, nn.GRU):
        return tnn.GRU(m.input_size, m.hidden_size, **kw)
    return tnn.RNN(m.input_size, m.hidden_size, nonlinearity=m.nonlinearity, **kw)


def _dropout(tnn, m, cls):
    if getattr(m, "scaling", "inverted") != "inverted":
        return None  # "classic" (scale at test time) dropout has no torch twin
    return cls(m.p)


def _global_pool(tnn, m):
    return tnn.AdaptiveAvgPool2d(1) if m.keepdim else tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten())


# nnbasics class -> builder(torch.nn, module); exact classes (a subclass may change forward)
_BUILDERS = {
    nn.Linear: lambda t, m: t.Linear(m.in_features, m.out_features, bias=m.bias is not None),
    nn.Identity: lambda t, m: t.Identity(),
    nn.Conv1d: lambda t, m: _conv(t, m, t.Conv1d),
    nn.Conv2d: lambda t, m: _conv(t, m, t.Conv2d),
    nn.MaxPool2d: lambda t, m: t.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, ceil_mode=m.ceil_mode),
    nn.AvgPool2d: lambda t, m: t.AvgPool2d(m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode,
                                           count_include_pad=m.count_include_pad,
                                           divisor_override=m.divisor_override),
    nn.AdaptiveAvgPool2d: lambda t, m: t.AdaptiveAvgPool2d(m.output_size),
    nn.GlobalAvgPool2d: _global_pool,
    nn.BatchNorm1d: lambda t, m: t.BatchNorm1d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats),
    nn.BatchNorm2d: lambda t, m: t.BatchNorm2d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats),
    nn.LayerNorm: lambda t, m: t.LayerNorm(m.normalized_shape, m.eps, m.elementwise_affine,
                                           bias=m.bias is not None or not m.elementwise_affine),
    nn.Dropout: lambda t, m: _dropout(t, m, t.Dropout),
    nn.Dropout2d: lambda t, m: _dropout(t, m, t.Dropout2d),
    nn.AlphaDropout: lambda t, m: t.AlphaDropout(m.p),
    nn.Embedding: lambda t, m: t.Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx),
    nn.RNN: _recurrent,
    nn.LSTM: _recurrent,
    nn.GRU: _recurrent,
    nn.Flatten: lambda t, m: t.Flatten(m.start_dim, m.end_dim),
    nn.Unflatten: lambda t, m: t.Unflatten(m.dim, m.unflattened_size),
    nn.ReLU: lambda t, m: t.ReLU(),
    nn.Tanh: lambda t, m: t.Tanh(),
    nn.Sigmoid: lambda t, m: t.Sigmoid(),
    nn.LeakyReLU: lambda t, m: t.LeakyReLU(m.negative_slope),
    nn.PReLU: lambda t, m: t.PReLU(m.num_parameters, m.init),
    nn.ELU: lambda t, m: t.ELU(m.alpha),
    nn.SELU: lambda t, m: t.SELU(),
    nn.CELU: lambda t, m: t.CELU(m.alpha),
    nn.GELU: lambda t, m: t.GELU(approximate=m.approximate),
    nn.SiLU: lambda t, m: t.SiLU(),
    nn.Mish: lambda t, m: t.Mish(),
    nn.Softplus: lambda t, m: t.Softplus(m.beta, m.threshold),
    nn.Softsign: lambda t, m: t.Softsign(),
    nn.Hardtanh: lambda t, m: t.Hardtanh(m.min_val, m.max_val),
    nn.ReLU6: lambda t, m: t.ReLU6(),
    nn.Hardsigmoid: lambda t, m: t.Hardsigmoid(),
    nn.Softmax: lambda t, m: t.Softmax(m.dim),
    nn.LogSoftmax: lambda t, m: t.LogSoftmax(m.dim),
}


def _char_rnn(torch, m, build):
    """The twin of :class:`nnbasics.models.rnn.CharRNN`: same attribute names, returns (logits, state)."""

    class CharRNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = build(m.embedding, "embedding")
            self.rnn = build(m.rnn, "rnn")
            self.drop = build(m.drop, "drop")
            self.decoder = build(m.decoder, "decoder")

        def forward(self, x, state=None):
            out, state = self.rnn(self.embedding(x), state)  # (N, T, H)
            return self.decoder(self.drop(out)), state  # (N, T, V)

    return CharRNN()


def build_twin(model, torch, error):
    """The torch twin of ``model`` (weights not copied); raises ``error`` naming an unsupported layer."""
    from ..models.rnn import CharRNN

    tnn = torch.nn

    def build(m, path):
        cls = type(m)
        if cls in (nn.Sequential, nn.ModuleList):
            children = [build(c, f"{path}.{n}" if path else n) for n, c in m.named_children()]
            tm = tnn.Sequential(*children) if cls is nn.Sequential else tnn.ModuleList(children)
        elif cls is CharRNN:
            tm = _char_rnn(torch, m, lambda c, n: build(c, f"{path}.{n}" if path else n))
        else:
            maker = _BUILDERS.get(cls)
            tm = None if maker is None else maker(tnn, m)
            if tm is None:
                where = f" at {path!r}" if path else ""
                raise error(
                    f"to_torch: {cls.__name__}{where} has no torch twin (supported: Sequential, ModuleList, "
                    f"CharRNN and {', '.join(sorted(c.__name__ for c in _BUILDERS))}). Export the weights with "
                    "save_torch_safetensors and build the torch model by hand."
                )
        tm.train(m.training)
        return tm

    return build(model, "")
