"""LeNet-5 of the Theano tutorial in PyTorch, timed as `lenet bench` times
ours: batch 500, plain SGD (lr 0.1), on the CPU with a given number of
threads; training and inference images per second, the best of a few
timed runs after a warm-up. Run by `cargo xtask bench --torch`.

usage: python torch_lenet.py THREADS [BATCH]
"""

import sys
import time

import torch
from torch import nn


class LeNet5(nn.Module):
    # conv 20@5x5 -> max-pool 2x2 -> tanh; conv 50@5x5 -> max-pool -> tanh;
    # 800 -> 500 tanh; 500 -> 10. A conv's bias before the pooling is the
    # tutorial's bias after it: the max of x + b is max(x) + b.
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.hidden = nn.Linear(800, 500)
        self.out = nn.Linear(500, 10)

    def forward(self, x):
        x = torch.tanh(nn.functional.max_pool2d(self.conv1(x), 2))
        x = torch.tanh(nn.functional.max_pool2d(self.conv2(x), 2))
        x = torch.tanh(self.hidden(x.flatten(1)))
        return self.out(x)


def best_of(runs, f):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    threads = int(sys.argv[1])
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = LeNet5()
    images = torch.rand(batch, 1, 28, 28)
    labels = torch.arange(batch) % 10
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()

    def train():
        sgd.zero_grad()
        loss_fn(model(images), labels).backward()
        sgd.step()

    def infer():
        with torch.no_grad():
            model(images[:2000] if batch > 2000 else images)

    for _ in range(3):
        train()
        infer()
    train_s = best_of(5, train)
    infer_s = best_of(5, infer)
    version = torch.__version__.split("+")[0]
    print(
        f"PyTorch {version}, {threads} thread(s): training {batch / train_s:.0f} images/s, "
        f"inference {min(batch, 2000) / infer_s:.0f} images/s (batch {batch})"
    )


if __name__ == "__main__":
    main()
