"""``torch.nn`` of the compat namespace: nnbasics' layers under torch's names and constructors.

``Module``, ``Parameter`` and the containers are nnbasics' own classes, so ``class Net(nn.Module)``
in a script is an nnbasics Module. Layers that draw random numbers or take torch-only arguments
are thin subclasses (:func:`._adapt.adapt`): they initialize from the global generator
(``torch.manual_seed``) and accept ``device=`` and ``inplace=``. A torch.nn name nnbasics does not
have raises :class:`~nnbasics.compat.unsupported.UnsupportedTorchAPI` naming it.
"""

# NOTE: a namespace: the imports below are re-exported as torch.nn.<name>.
# ruff: noqa: F401
from ....nn import Module, ModuleDict, ModuleList, Parameter, Sequential
from ....nn import activation as _act
from ....nn import container as _container
from ....nn import conv as _conv
from ....nn import conv_transpose as _convt
from ....nn import dropout as _drop
from ....nn import embedding as _emb
from ....nn import flatten as _flat
from ....nn import linear as _lin
from ....nn import loss as _loss
from ....nn import normalization as _norm
from ....nn import pooling as _pool
from ....nn import recurrent as _rec
from ...unsupported import module_getattr
from . import functional, init, modules, parameter, utils
from ._adapt import adapt
from .packed_rnn import PackedInput

_INPLACE_AT = {
    "ReLU": 0, "ReLU6": 0, "SELU": 0, "SiLU": 0, "Mish": 0, "Hardsigmoid": 0, "Hardswish": 0,
    "LeakyReLU": 1, "ELU": 1, "CELU": 1, "Dropout": 1, "Dropout1d": 1, "Dropout2d": 1, "Dropout3d": 1,
    "AlphaDropout": 1, "Hardtanh": 2, "Threshold": 2, "RReLU": 2,
}

_SOURCES = (_act, _conv, _convt, _drop, _emb, _flat, _lin, _loss, _norm, _pool, _rec)

#: torch.nn names served from nnbasics' modules (each adapted once).
_LAYER_NAMES = (
    "AdaptiveAvgPool2d", "AlphaDropout", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d",
    "CELU", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Dropout2d", "ELU", "Embedding", "Flatten", "GELU",
    "GRU", "GRUCell", "Hardsigmoid", "Hardtanh", "HuberLoss", "Identity", "L1Loss", "LSTM", "LSTMCell", "LayerNorm",
    "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Mish", "MultiMarginLoss", "NLLLoss", "PReLU",
    "RNN", "RNNCell", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "Softsign",
    "Tanh", "Unflatten",
)


def _find(name):
    for mod in _SOURCES:
        if hasattr(mod, name):
            return getattr(mod, name)
    raise ImportError(f"nnbasics.nn has no {name}")


for _name in _LAYER_NAMES:
    globals()[_name] = adapt(_find(_name), inplace_at=_INPLACE_AT.get(_name),
                             mixin=PackedInput if _name in ("RNN", "LSTM", "GRU") else None)
del _name

RNNBase = _rec.RNNBase
RNNCellBase = _rec.RNNCellBase

# NOTE: a torch.nn class nnbasics lacks is a placeholder that can be named and subclassed (a script
# may define `class TransformerModel(nn.Transformer)` and train an LSTM); building one stops the script.
__getattr__ = module_getattr(__name__, {
    "DataParallel": "nnbasics trains on one CPU device; use the model itself",
    "parallel": "nnbasics trains on one CPU device; use the model itself",
    "Transformer": "attention layers are not part of nnbasics yet; use nn.LSTM or nn.GRU for sequences",
    "TransformerEncoder": "attention layers are not part of nnbasics yet; use nn.LSTM or nn.GRU for sequences",
    "TransformerEncoderLayer": "attention layers are not part of nnbasics yet; use nn.LSTM or nn.GRU",
    "MultiheadAttention": "write attention with matmul and softmax: (q @ k.transpose(-2, -1) / d ** 0.5)"
                          ".softmax(-1) @ v",
}, placeholder_base=Module)
