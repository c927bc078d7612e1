from seldon_core.user_model import SeldonNotImplementedError  # the fallback shim, or the real package


class Model:
    """predict_raw gets the dict on REST and, as in Seldon, the SeldonMessage proto on gRPC; for a
    tensor request it raises SeldonNotImplementedError, so the call falls through to predict();
    send_feedback_raw gets the Feedback dict on REST and the Feedback proto on gRPC."""

    def predict_raw(self, msg):
        if isinstance(msg, dict):
            if "data" in msg:
                raise SeldonNotImplementedError("use predict")
            return {"strData": "dict:" + msg.get("strData", ""), "meta": {}}
        if msg.WhichOneof("data_oneof") == "data":
            raise SeldonNotImplementedError("use predict")
        out = type(msg)()
        out.strData = "proto:" + msg.strData
        return out

    def predict(self, X, feature_names, meta=None):
        return X * 2

    def send_feedback_raw(self, feedback):
        kind = "dict" if isinstance(feedback, dict) else type(feedback).__name__
        return {"strData": "feedback:" + kind, "meta": {}}
