"""What an atomic write does to a target that is not a plain file: a named pipe (or a device such as
/dev/null) is written into, a symbolic link is followed.

Found by the audit (issues 14/15): `nnbasics export RUN --onnx /dev/full`, run as root, renamed the
temporary file over the device and left a regular file at /dev/full; a save through a symlink replaced
the link with a copy and left the file it pointed to stale.
"""

import os
import stat
import threading

import numpy as np
import pytest

from nnbasics.io.safetensors import atomic_write_bytes, load_file, save_file

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")


def test_a_named_pipe_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []

    def read():
        with open(fifo, "rb") as f:
            got.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    atomic_write_bytes(fifo, [b"hello ", b"pipe"])
    reader.join(timeout=10)
    assert got == [b"hello pipe"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the pipe
    assert sorted(os.listdir(tmp_path)) == ["pipe"]  # no temporary file left


def test_a_symlink_is_followed_and_kept(tmp_path):
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    save_file({"w": np.zeros(2, np.float32)}, real_dir / "model.safetensors")
    link = tmp_path / "model.safetensors"
    link.symlink_to(real_dir / "model.safetensors")
    save_file({"w": np.ones(3, np.float32)}, link)
    assert link.is_symlink()
    arrays, _ = load_file(real_dir / "model.safetensors")  # the file the link points to has the new weights
    np.testing.assert_array_equal(arrays["w"], np.ones(3, np.float32))
    assert sorted(os.listdir(real_dir)) == ["model.safetensors"] and sorted(os.listdir(tmp_path)) == [
        "model.safetensors", "store"]
