# Names vulture cannot see used: pytest finds hooks and fixtures by name.
pytest_runtest_setup  # noqa
pytest_collection_modifyitems  # noqa
