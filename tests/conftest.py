"""Shared test set-up: one intra-op thread, since rnnlab's tiny models run slower on two busy cores than on one."""
import torch

torch.set_num_threads(1)
