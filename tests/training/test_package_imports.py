"""``attnkit.train`` is the API function and ``attnkit.training`` the package: both import."""

import importlib


def test_the_train_function_and_the_training_package_both_import():
    import attnkit
    import attnkit.training.checkpoint as ck

    assert callable(attnkit.train) and attnkit.train.__module__ == "attnkit.api"
    assert importlib.import_module("attnkit.training.checkpoint") is ck
    assert ck.save_checkpoint.__module__ == "attnkit.training.checkpoint"
