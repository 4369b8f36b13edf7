"""``torch.backends``: ``cudnn`` and ``mps`` report that they are absent; their switches are accepted."""

import types

from ...unsupported import module_getattr

__all__ = ["cudnn", "mps"]


class _Switchboard(types.ModuleType):
    """A backend module whose flags can be set (``cudnn.benchmark = True``) and which is not available."""

    def is_available(self) -> bool:
        return False

    def is_built(self) -> bool:
        return False


cudnn = _Switchboard("torch.backends.cudnn", "cuDNN: absent (no GPU); its flags are accepted and do nothing.")
cudnn.enabled = False
cudnn.benchmark = False
cudnn.deterministic = False
cudnn.allow_tf32 = False
cudnn.version = lambda: None

mps = _Switchboard("torch.backends.mps", "Apple MPS: absent; is_available() is False.")

__getattr__ = module_getattr(__name__)
