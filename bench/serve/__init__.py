"""The serving benchmark: modelpack-microservice side by side with seldon-core, MLServer, KServe and
a raw ASGI baseline. Run it with `bench/run-serve` (see bench/README.md)."""
