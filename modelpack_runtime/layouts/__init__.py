"""Hosting adapters: serve model classes written for other servers (KServe's kserve.Model) with
modelpack's runtime, so they get the same routes, metrics, health and process model."""
