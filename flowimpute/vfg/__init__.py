"""The Variational Flow Graphical model: structure (sections, tree) and message passing."""
