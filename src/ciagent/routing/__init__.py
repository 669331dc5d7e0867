"""Model deployments (the registry) and, next, the routing policy over them."""
