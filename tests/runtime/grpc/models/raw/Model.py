class Model:
    """predict_raw gets the dict on REST and, as in Seldon, the SeldonMessage proto on gRPC."""

    def predict_raw(self, msg):
        if isinstance(msg, dict):
            return {"strData": "dict:" + msg.get("strData", ""), "meta": {}}
        out = type(msg)()
        out.strData = "proto:" + msg.strData
        return out
