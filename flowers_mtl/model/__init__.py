"""The trainable model around the slim net, its ImageNet import, its cost, and its folder."""
