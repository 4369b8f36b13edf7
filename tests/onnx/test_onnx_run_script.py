"""An ONNX export from a PyTorch script run by `nnbasics run`: its torch.onnx.export call reaches torch_export."""

import textwrap

import numpy as np
import onnx
import onnxruntime as ort

from nnbasics.cli import main

SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.lstm = nn.LSTM(4, 5, batch_first=True)
            self.fc = nn.Linear(5, 3)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv(x)), 2)  # (N, 4, 4, 4)
            seq = x.view(x.size(0), 4, -1).transpose(1, 2)  # (N, 16, 4)
            out, _ = self.lstm(seq)
            return self.fc(out[:, -1, :])


    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.eval()
    torch.onnx.export(model, torch.randn(2, 1, 8, 8), sys.argv[1], input_names=["images"],
                      output_names=["logits"], dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.EVAL, dynamo=False)
    probe = torch.from_numpy(np.linspace(-1, 1, 5 * 64, dtype=np.float32).reshape(5, 1, 8, 8))
    with torch.no_grad():
        np.save(sys.argv[2], model(probe).numpy())
''')


def test_torch_onnx_export_in_a_script_run_by_nnbasics(tmp_path):
    script = tmp_path / "train_and_export.py"
    script.write_text(SCRIPT)
    path, expected = tmp_path / "net.onnx", tmp_path / "expected.npy"
    assert main(["run", str(script), str(path), str(expected)]) == 0
    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["images"] and "LSTM" in {n.op_type for n in proto.graph.node}
    probe = np.linspace(-1, 1, 5 * 64, dtype=np.float32).reshape(5, 1, 8, 8)  # batch 5: the batch is dynamic
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": probe})
    np.testing.assert_allclose(got, np.load(expected), atol=1e-5, rtol=1e-4)
