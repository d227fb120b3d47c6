"""A trained model as a SavedModel that TF Serving loads unchanged.

Two signatures over one answer: `serving_default` takes encoded photos (tf.string, decoded and
resized in the graph by data.graph_decode) and `pixels` takes uint8 pixels decoded by the client
with Pillow (EXIF-aware: what predict.py and serve.py send). Both return `<task>_probs` and
`<task>_label` (the class name). The manifest (signature.Manifest) travels as an asset.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import tensorflow as tf

from .. import signature
from ..data import graph_decode
from ..model.layer import MultiTaskSqueezeNet


class ServingModule(tf.Module):
    """What the SavedModel holds: the network, its class names and the manifest."""

    def __init__(self, model: MultiTaskSqueezeNet, manifest_file: Path):
        super().__init__()
        self.model = model
        self.manifest = tf.saved_model.Asset(str(manifest_file))
        self.class_names = {task: tf.constant(names) for task, names in model.spec.classes.by_task.items()}

    def answer(self, pixels: tf.Tensor, label_names: bool = True) -> dict[str, tf.Tensor]:
        """Pixels (N, S, S, 3) in 0..255 -> {<task>_probs, <task>_label}: a name, or with
        label_names=False the class index (TFLite keeps strings out of its graphs)."""
        outputs = {}
        for task, logits in self.model(tf.cast(pixels, tf.float32), training=False).items():
            probs = tf.nn.softmax(logits)
            index = tf.argmax(probs, axis=-1, output_type=tf.int32)
            outputs[signature.probs_output(task)] = probs
            outputs[signature.label_output(task)] = tf.gather(self.class_names[task], index) if label_names else index
        return outputs

    def signatures(self) -> dict:
        spec = self.model.spec
        size, contract = spec.image_size, spec.preprocessing

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=signature.BYTES_INPUT)])
        def from_bytes(image_bytes):
            return self.answer(graph_decode.decode_batch(image_bytes, size, contract))

        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.uint8, name=signature.PIXELS_INPUT)])
        def from_pixels(images):
            return self.answer(images)

        return {signature.BYTES_SIGNATURE: from_bytes, signature.PIXELS_SIGNATURE: from_pixels}

    def lite_signature(self) -> dict:
        """For TFLite conversion: float pixels in (the converter quantises them for int8), indices out."""
        size = self.model.spec.image_size

        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name=signature.PIXELS_INPUT)])
        def from_pixels(images):
            return self.answer(images, label_names=False)

        return {signature.PIXELS_SIGNATURE: from_pixels}


def save(model: MultiTaskSqueezeNet, manifest: signature.Manifest, out: Path) -> Path:
    """Write the SavedModel to `out` (a version folder, e.g. base/1); returns it."""
    with tempfile.TemporaryDirectory() as scratch:
        manifest_file = Path(scratch) / signature.MANIFEST_NAME
        manifest_file.write_text(manifest.dumps())
        module = ServingModule(model, manifest_file)
        tf.saved_model.save(module, str(out), signatures=module.signatures())
    return Path(out)
