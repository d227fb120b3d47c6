"""An HTTP endpoint that speaks TF Serving's REST API, and a page to try photos."""
