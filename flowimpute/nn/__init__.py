"""Networks: multilayer perceptrons and masked (adjacency-constrained) ones."""
