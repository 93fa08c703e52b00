FROM python:3.11-slim

WORKDIR /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
COPY . .
# The same install step as `make run` and CI (scripts/install.sh, torch pinned to the CPU build).
RUN make install VENV=/opt/venv

ENV PATH="/opt/venv/bin:${PATH}" \
    BRIEFBOT_DATA_DIR=/data \
    HF_HUB_OFFLINE=1
VOLUME ["/data"]
# Only used in Slack's HTTP mode: `docker run … briefbot run --slack-http --port 3000`.
EXPOSE 3000
CMD ["briefbot", "run"]
