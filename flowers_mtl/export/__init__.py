"""Writing a trained model out of this package: SavedModel (TF Serving) and TFLite (phones)."""
