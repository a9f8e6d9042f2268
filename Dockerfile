# multigres-krmfn as a containerized KRM function (kpt `image:`, kustomize `container:`) and as
# the Argo CD plugin sidecar image. The entrypoint is the console script with no arguments:
# function mode, a ResourceList on stdin and on stdout.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY krmfn ./krmfn
COPY krmfn_status ./krmfn_status
COPY krmfn_etcd ./krmfn_etcd
# A venv keeps the package and its dependencies in one tree the runtime stage copies whole;
# pip compiles the .pyc files here, so no start-up pays for compiling (the function runs per render).
# constraints.txt pins every runtime dependency to the version the tests ran (`make constraints`):
# one commit gets the same dependency versions whatever PyPI has released since.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -c constraints.txt '.[status]' \
 && /opt/venv/bin/multigres-krmfn --version

FROM python:3.11-slim
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# kpt runs function containers as `nobody` (65534) with no network; use the same identity here so
# the image behaves the same under docker run, kustomize and Kubernetes (runAsNonRoot).
USER 65534:65534
WORKDIR /tmp
ENTRYPOINT ["/opt/venv/bin/multigres-krmfn"]
