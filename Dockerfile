# syntax=docker/dockerfile:1
#
# ami-exporter container image. Two stages: the first builds a wheel for the project (its codec and
# model compiled with mypyc) and for every dependency, the second installs them offline into a venv and runs as an unprivileged user.
#
#   docker build -t ami-exporter --build-arg VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' ami_exporter/__init__.py)" .
#   docker run --rm -p 9815:9815 ami-exporter --demo                 # simulated call centre, no Asterisk
#   docker run --rm -e AMI_EXPORTER_SECRET ami-exporter check --ami.address=pbx.example.net:5038  # diagnose
#   docker run -d -p 9815:9815 \
#       -e AMI_EXPORTER_ADDRESS=pbx.example.net:5038 -e AMI_EXPORTER_USERNAME=ami_exporter \
#       -e AMI_EXPORTER_SECRET_FILE=/run/secrets/ami_secret \
#       -v /etc/ami-exporter/secret:/run/secrets/ami_secret:ro ami-exporter
#
# No secret is baked in: pass the AMI secret at run time, as a mounted file (--ami.secret-file or
# AMI_EXPORTER_SECRET_FILE; a Docker/Compose/Kubernetes secret) or in AMI_EXPORTER_SECRET.
# See docs/operations.md#in-a-container.
#
# Needs BuildKit (the default builder since Docker 23) for RUN --mount.
#
# The base image is pinned to a Python patch release. For reproducible builds also pin its digest,
# e.g. --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The codec and the model are compiled with mypyc (hatch_build.py), which needs a C compiler in this
# stage only; --build-arg AMI_EXPORTER_MYPYC=0 builds the pure-Python wheel instead.
ARG AMI_EXPORTER_MYPYC=1
ENV AMI_EXPORTER_MYPYC=${AMI_EXPORTER_MYPYC}

# The compiler never reaches the runtime image, so its exact Debian version does not matter.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the wheel is built from (.dockerignore keeps everything else out of the context).
COPY pyproject.toml README.md LICENSE hatch_build.py ./
COPY ami_exporter/ ./ami_exporter/

# Wheels for ami-exporter and all its dependencies (PyYAML and bcrypt for --web.config.file among
# them), so the runtime stage installs without a network or a compiler.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# -------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE}

# The version comes from ami_exporter/__init__.py (see the build command above); it is not repeated here.
ARG VERSION=unknown
LABEL org.opencontainers.image.title="ami-exporter" \
      org.opencontainers.image.description="Prometheus exporter for the Asterisk PBX (queues, agents, channels, CDR and security events over a read-only AMI session)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/ami-exporter/ami-exporter" \
      org.opencontainers.image.url="https://github.com/ami-exporter/ami-exporter" \
      org.opencontainers.image.documentation="https://github.com/ami-exporter/ami-exporter/blob/main/docs/operations.md"

# AMI_EXPORTER_WEB_LISTEN_ADDRESS: every interface of the container, also for --demo (which otherwise
# listens on loopback only: unreachable through -p from the host). --web.listen-address overrides it.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    AMI_EXPORTER_WEB_LISTEN_ADDRESS=:9815

# The wheels are bind-mounted from the build stage, so they never become a layer of this image.
# The venv gets no pip of its own: the base image's pip installs into it (pip --python). Versions
# are the ones resolved in the build stage: every wheel there is installed, offline. The group is created
# first with GID 10001, so that the user's primary group is the 10001 of USER 10001:10001 (useradd
# --user-group would pick a free system GID such as 999).
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-cache-dir --no-index --find-links /wheels /wheels/*.whl \
    && groupadd --system --gid 10001 ami-exporter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ami-exporter

USER 10001:10001
EXPOSE 9815

# Liveness only: /-/healthy answers 200 while the process runs (it is exempt from basic auth);
# /-/ready tells whether Asterisk is connected. No curl in the slim image: ami_exporter.healthcheck
# (Python's urllib) probes the first --web.listen-address of the running exporter (read from its
# command line and environment), over https when --web.config.file enables TLS (not verified: it is a
# loopback probe). HEALTHCHECK_URL overrides the URL. With client certificates required, disable the
# health check (docker run --no-healthcheck; compose healthcheck: disable: true).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "ami_exporter.healthcheck"]

# Exec form: the exporter is PID 1 and receives SIGTERM itself (it logs off from the AMI and exits).
ENTRYPOINT ["ami-exporter"]
