"""Network functions in tf-slim's style: an arg_scope function and a net function returning
(logits, end_points)."""
