"""Every magic name the packager uses, in one place: source-folder file names, environment keys,
ports, labels, limits, context layout and the runtime wheel's dependencies."""

from __future__ import annotations

# --- the source folder ---------------------------------------------------------------------------
S2I_DIR = ".s2i"
S2I_ENVIRONMENT = ".s2i/environment"
IGNORE_FILES = (".dockerignore", ".s2iignore")  # both are read, in this order
REQUIREMENTS_TXT = "requirements.txt"
SETUP_PY = "setup.py"
SETUP_CFG = "setup.cfg"
PYPROJECT_TOML = "pyproject.toml"
ENVIRONMENT_YML = ("environment.yml", "environment.yaml")
SOURCE_WHEELS_DIR = "wheels"  # local wheels shipped inside the source
BEFORE_RUN = "before-run"  # executable hook run before the server starts
# Never part of a build context, whatever the ignore files say.
ALWAYS_EXCLUDED = (".git", "__pycache__", ".venv", "*.pyc")

# --- .s2i/environment keys ------------------------------------------------------------------------
MODEL_NAME = "MODEL_NAME"
SERVICE_TYPE = "SERVICE_TYPE"
PERSISTENCE = "PERSISTENCE"
HEALTHCHECK_KEY = "MODELPACK_HEALTHCHECK"
KEEP_PIP_KEY = "MODELPACK_KEEP_PIP"  # 1: the image keeps pip, setuptools and wheel (packager/slim)
# Build settings read from .s2i/environment that are not an ENV of the image: they change how the
# image is built, not how it runs (so toggling one does not touch the final stage's ENV layer).
BUILD_SETTINGS = (KEEP_PIP_KEY, "MODELPACK_MODEL_DIR")
SERVICE_TYPES = ("MODEL", "ROUTER", "TRANSFORMER", "COMBINER", "OUTLIER_DETECTOR")
DEFAULT_SERVICE_TYPE = "MODEL"
DEFAULT_PERSISTENCE = "0"
# Build-only keys: used by the dependency install step, never written into the image.
BUILD_ONLY_KEYS = ("EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
SECRET_NAME_PARTS = ("TOKEN", "PASSWORD", "SECRET")
# s2i-era names mapped onto the variable pip reads.
PIP_ENV_ALIASES = {"EXTRA_INDEX_URL": "PIP_EXTRA_INDEX_URL"}
# Keys the image needs for itself; a user value would break it.
RESERVED_KEYS = ("PATH", "VIRTUAL_ENV", "HOME")

# --- the image ------------------------------------------------------------------------------------
HTTP_PORT = 9000
GRPC_PORT = 5000
METRICS_PORT = 6000
USER_UID = 8888
USER_GID = 0
WORKDIR = "/microservice"
VENV = "/opt/venv"
LABEL_PREFIX = "io.modelpack."
OCI_PREFIX = "org.opencontainers.image."

# --- the build context ----------------------------------------------------------------------------
CTX_SRC = "src"  # the filtered source, copied last
CTX_DEPS = "deps"  # dependency manifests and the local files they reference
CTX_WHEELS = "wheels"  # local wheels (find-links)
CTX_MODELPACK = "modelpack"  # runtime wheel, entry script, CA bundle
CTX_CA_FILE = "modelpack/ca.crt"
CTX_ENTRYPOINT = "modelpack/entrypoint.sh"
PROJECT_REQUIREMENTS = "modelpack-project-requirements.txt"  # extracted project deps, in deps/
CONTEXT_WARN_BYTES = 200 * 1024 * 1024
CONTEXT_MAX_BYTES = 2 * 1024 * 1024 * 1024

# --- the runtime wheel ----------------------------------------------------------------------------
RUNTIME_PACKAGE = "modelpack_runtime"
RUNTIME_DIST = "modelpack-runtime"
# What `modelpack_runtime` needs at run time; the wheel's METADATA lists exactly these.
RUNTIME_DEPENDENCIES = (
    "numpy>=1.21",
    "orjson>=3.8",
    "uvicorn>=0.23",
    "uvloop>=0.17; sys_platform != 'win32'",
    "httptools>=0.5",
    "prometheus-client>=0.17",
    # large JSON tensors (modelpack_runtime/fastjson.py); keep in step with pyproject.toml
    "pysimdjson>=7.0.2,<8; python_version < '3.14'",
    # gRPC (issue 4); keep in step with pyproject.toml (the stubs need protobuf >= their gencode 7.35.1)
    "grpcio>=1.85.1",
    "protobuf>=7.35.1,<8",
    "grpcio-health-checking>=1.85.1",
    "grpcio-reflection>=1.85.1",
)
RUNTIME_ENTRY_POINTS = {"modelpack-microservice": "modelpack_runtime.cli:main"}

# --- the CLI --------------------------------------------------------------------------------------
DEFAULT_BUILDER = "python"
DEBUG_ENV = "MODELPACK_DEBUG"
BUILDER_FILE = "builder.yaml"
