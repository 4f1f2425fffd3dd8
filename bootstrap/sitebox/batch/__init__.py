"""The batch connector's client side: scoped credentials and the load test."""
