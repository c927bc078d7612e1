"""Run with modelpack's python; argv: <seldon-core site-packages> <fixtures dir>. Serves the
seldon_shim fixture (which imports seldon_core) with the REAL seldon-core importable, as in an
image that installs it, and prints what the data plane did as one JSON line."""
import json
import sys

sys.path.append(sys.argv[1])  # like site-packages: before the shim, which usermodel appends last

import orjson  # noqa: E402

from modelpack_runtime.dataplane import DataPlane  # noqa: E402
from modelpack_runtime.errors import MicroserviceError  # noqa: E402
from modelpack_runtime.settings import Settings  # noqa: E402

dp = DataPlane(Settings("ShimModel", workdir=f"{sys.argv[2]}/seldon_shim"))
dp.construct()
dp.load()
import seldon_core.user_model  # noqa: E402

out = {"ready": dp.ready, "failure": dp.failure, "seldon_core": seldon_core.user_model.__file__}
try:
    dp.seldon("predict", {"strData": "teapot"})
except MicroserviceError as e:
    out["teapot"] = [e.status_code, e.reason, e.message]
out["predict"] = json.loads(orjson.dumps(dp.seldon("predict", {"data": {"ndarray": [[1.0]]}}),
                                         option=orjson.OPT_SERIALIZE_NUMPY))
out["health"] = dp.seldon_health_status()
print(json.dumps(out))
