"""A model that needs a library available only as a local wheel (wheels/*.whl)."""
import mp_localwheel_demo


class Model:
    def predict(self, X, features_names=None, meta=None):
        return [[mp_localwheel_demo.greet(str(row[0]))] for row in X]

    def tags(self):
        return {"lib_version": mp_localwheel_demo.__version__}
