"""Opens a weights file written by `lenet train` with Python's safetensors
and checks every LeNet-5 tensor is there with its shape and finite values."""
import sys

import numpy as np
from safetensors.numpy import load_file

EXPECTED = {
    "conv1.weight": (20, 1, 5, 5), "conv1.bias": (20,),
    "conv2.weight": (50, 20, 5, 5), "conv2.bias": (50,),
    "hidden.weight": (800, 500), "hidden.bias": (500,),
    "out.weight": (500, 10), "out.bias": (10,),
}

tensors = load_file(sys.argv[1])
assert set(tensors) == set(EXPECTED), f"tensors {sorted(tensors)}"
for name, shape in EXPECTED.items():
    t = tensors[name]
    assert t.dtype == np.float32 and t.shape == shape, f"{name}: {t.dtype} {t.shape}"
    assert np.isfinite(t).all(), f"{name} has non-finite values"
assert np.abs(tensors["out.weight"]).sum() > 0, "output layer was never trained"
print(f"safetensors opened {sys.argv[1]}: {len(tensors)} tensors, "
      f"{sum(t.size for t in tensors.values())} parameters")
