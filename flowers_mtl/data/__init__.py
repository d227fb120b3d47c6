"""Split files, photo decoding, the tf.data pipeline, prepare and the synthetic demo set."""
