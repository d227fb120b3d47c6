# Names vulture cannot see used: pytest finds hooks and fixtures by name.
pytest_runtest_setup  # noqa
pytest_configure  # noqa
pytest_collection_modifyitems  # noqa
pytestmark  # noqa
# Starlette calls a middleware's dispatch.
dispatch  # noqa
# The TFLite converter and uvicorn's Server read settings as attributes set on them.
optimizations  # noqa
supported_types  # noqa
representative_dataset  # noqa
supported_ops  # noqa
inference_input_type  # noqa
inference_output_type  # noqa
should_exit  # noqa
