"""Opens an ONNX file of ours as other tools do: ONNX's own checker, then
ONNX Runtime scoring the test set of a data folder (the IDX files, raw or
gzipped). Prints "test errors N of M", for the test command to compare
with `lenet evaluate`'s count.

usage: python3 tests/check_onnx.py MODEL.onnx DATA_DIR
"""

import gzip
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def idx(folder, name, header):
    """An IDX file's payload, from NAME or NAME.gz in FOLDER."""
    for path, read in ((os.path.join(folder, name), open), (os.path.join(folder, name + ".gz"), gzip.open)):
        if os.path.exists(path):
            with read(path, "rb") as f:
                return np.frombuffer(f.read()[header:], np.uint8)
    sys.exit(f"{folder} has no {name} (nor {name}.gz)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, folder = sys.argv[1:]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = {o.domain: o.version for o in model.opset_import}[""]
    assert opset >= 13, f"opset {opset}, below 13"
    (inp,), (out,) = model.graph.input, model.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims[1:] == [1, 28, 28] and isinstance(dims[0], str), f"input shape {dims}: not (N,1,28,28) with a named batch"

    images = idx(folder, "t10k-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 256
    labels = idx(folder, "t10k-labels-idx1-ubyte", 8)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    probabilities = np.concatenate([session.run(None, {inp.name: images[i:i + 500]})[0] for i in range(0, len(images), 500)])
    assert probabilities.shape == (len(images), 10), f"output shape {probabilities.shape}"
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5), "the outputs are not probabilities"
    # Any batch: one image alone reads as it did in its batch of 500.
    one = session.run(None, {inp.name: images[:1]})[0]
    assert np.allclose(one, probabilities[:1], atol=1e-6), "batch 1 disagrees with batch 500"
    errors = int((probabilities.argmax(axis=1) != labels).sum())
    print(f"{path}: ONNX checker passed (opset {opset}, input {inp.name} {dims}, output {out.name}); "
          f"ONNX Runtime {ort.__version__}: test errors {errors} of {len(labels)}")


main()
