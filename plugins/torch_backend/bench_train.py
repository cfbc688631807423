"""The baseline `workbench bench train` compares against: the minimal PyTorch training loop of
the tutorials (DataLoader over a TensorDataset, cross-entropy, Adam), nothing else."""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from .inference import logits_mode


def baseline(model, x, y, batch_size: int, epochs: int, learning_rate: float) -> None:
    device = next(model.parameters()).device
    data = TensorDataset(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y))
    loader = DataLoader(data, batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    with logits_mode(model):
        for _ in range(epochs):
            for xb, yb in loader:
                xb, yb = xb.to(device), yb.to(device)
                optimizer.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    model.eval()
