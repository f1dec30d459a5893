"""Structure: coupling masks and the evolutionary search over them."""
