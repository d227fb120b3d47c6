"""Training: the losses, one compiled step, and the loop in parts (setup, epoch, validate, keep best)."""
