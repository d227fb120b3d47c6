# Names vulture cannot see used: pytest finds hooks and fixtures by name.
pytest_runtest_setup  # noqa
pytest_collection_modifyitems  # noqa
# The TFLite converter reads its settings as attributes set on it.
optimizations  # noqa
supported_types  # noqa
representative_dataset  # noqa
supported_ops  # noqa
inference_input_type  # noqa
inference_output_type  # noqa
