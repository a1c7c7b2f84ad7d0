"""One thin handler per operation: params dict -> service call -> result dict."""
