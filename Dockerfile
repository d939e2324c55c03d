# syntax=docker/dockerfile:1
# keepposted's image: one image for the web, worker and release processes (see compose.yaml).
#
#   docker build -t keepposted .
#   docker run --rm --env-file .env keepposted keepposted db upgrade     # release: first, once
#   docker run --rm -p 8000:8000 --env-file .env keepposted              # web
#   docker run --rm --env-file .env keepposted keepposted worker         # worker
#
# serve and worker refuse to start on a database that is not migrated; `keepposted init` (in
# the image, or any install) writes a commented config.yaml and .env.example to start from.
#
# The build stage turns the source into wheels (keepposted's own and every dependency's); the
# final stage installs those wheels and nothing else, so the image runs exactly what an
# installed wheel runs: no source tree, no tests, no build tools.

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm

# --- build: the wheels --------------------------------------------------------------------
# The full image has a compiler, in case a dependency has no wheel for this platform; the same
# Debian release as the final image, so what it builds runs there.
FROM python:${PYTHON_VERSION}-${DEBIAN_RELEASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --wheel-dir /wheels . \
 && test -n "$(ls /wheels/keepposted-*.whl)"

# --- final: only the installed wheels -----------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS final
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
# The wheels are mounted from the build stage for this one step, not copied: no layer keeps them.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --no-index --find-links=/wheels keepposted \
 && keepposted --help > /dev/null

RUN groupadd --system --gid 10001 keepposted \
 && useradd --system --uid 10001 --gid keepposted --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin keepposted \
 && mkdir -p /app \
 && chown keepposted:keepposted /app
WORKDIR /app
USER keepposted:keepposted

EXPOSE 8000
# /healthz is the readiness check: 200 when the database answers at the newest migration and
# every template renders, 503 (urlopen raises) otherwise.
# The worker and release processes have no web server: compose.yaml turns this off for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# gunicorn on 0.0.0.0:8000 with the product's own gunicorn settings (JSON logs, masked phones).
CMD ["keepposted", "serve", "--host", "0.0.0.0", "--port", "8000"]
