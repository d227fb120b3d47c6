"""flowers-mtl: one SqueezeNet v1.1 (tf-slim) that tells a flower's type and colour at once."""

__version__ = "0.1.0"
