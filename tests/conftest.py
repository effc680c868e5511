"""Shared test set-up: one intra-op thread, since rnnlab's tiny models run slower on two busy cores than on one."""
import sys

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def main_module_kept():
    """Every test leaves this process's __main__ as it found it. AppTest makes the page script __main__, and a
    process that multiprocessing starts later (a sweep's workers) would run that script first and fail."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
