"""Tools over the library: the speed benchmark, the training-mode comparison, and their helpers.
They import the library; the library never imports them."""
