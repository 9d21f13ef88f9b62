# cherry-service: one process per container, served by cheroot on :8080.
# Build: docker build -t cherry-service .
# Test inside: docker run --rm --network host cherry-service ./testing.sh
#   (testing.sh installs the [test] extra from PyPI at that point: the image
#   itself carries only the run-time dependencies and memcached).
# .ci/dockerfile-steps.sh replays these steps without Docker, so keep every
# instruction in a form it understands (shell-form RUN, exec-form CMD).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH

# memcached, for ./testing.sh inside the image only (`./run.sh docker` tests
# the very image it runs, and the session tests start real memcached
# processes); the service never starts it. Only the binary and its two
# libraries are unpacked: the package would pull in Perl (about 130 MB) for
# its memcached-tool script.
# hadolint ignore=DL3003
RUN apt-get update \
    && cd /tmp \
    && apt-get download memcached libevent-2.1-7 libsasl2-2 libsasl2-modules-db \
    && for deb in ./*.deb; do dpkg-deb -x "$deb" /tmp/mc; done \
    && cp -a /tmp/mc/usr/bin/memcached /usr/bin/ \
    && cp -a /tmp/mc/usr/lib/. /usr/lib/ \
    && rm -rf ./*.deb /tmp/mc \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && memcached -V

# A fixed numeric non-root uid: Kubernetes' runAsNonRoot can only verify a
# numeric USER.
RUN useradd --no-log-init --create-home --uid 10001 --user-group --shell /usr/sbin/nologin app \
    && install -d -o app -g app /app
WORKDIR /app
USER 10001:10001

# Dependency layer: only the lock file, so editing code reuses this layer.
# requirements.lock pins every run-time dependency with its hashes
# (generated from pyproject.toml; see the README), so every build installs
# the same bytes.
COPY --chown=10001:10001 requirements.lock ./
RUN python -m venv "$VIRTUAL_ENV" \
    && pip install --no-cache-dir --require-hashes -r requirements.lock

# Code layer. tests/, conf/ and testing.sh come along so the image can test
# itself (./testing.sh reuses this venv and adds the [test] extra).
COPY --chown=10001:10001 . .
RUN pip install --no-cache-dir --no-deps .

# Build information: GET /version and the app_info metric report it.
#   docker build --build-arg GIT_COMMIT="$(git rev-parse HEAD)" \
#       --build-arg BUILD_TIME="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
ARG VERSION=0.1.0
ARG GIT_COMMIT=unknown
ARG BUILD_TIME=unknown
ENV BUILD_COMMIT=$GIT_COMMIT \
    BUILD_TIME=$BUILD_TIME
LABEL org.opencontainers.image.title="cherry-service" \
      org.opencontainers.image.version=$VERSION \
      org.opencontainers.image.revision=$GIT_COMMIT \
      org.opencontainers.image.created=$BUILD_TIME

EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthcheck' % os.environ.get('PORT', '8080'), timeout=2)"]
CMD ["python", "-m", "app", "--config", "conf/prod.conf"]
