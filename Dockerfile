# Built and run on Debian 12 with docker.io (see README, "Running in containers").
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ivr ./ivr
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 ivr
COPY --from=build /venv /venv
COPY flows /app/flows
WORKDIR /app
ENV PATH=/venv/bin:$PATH IVR_HOST=0.0.0.0 IVR_PORT=8080 IVR_FLOW=/app/flows/loire.yaml \
    IVR_DATA_DIR=/app/var
RUN mkdir -p /app/var && chown ivr /app/var
USER ivr
EXPOSE 8080
# Asks the port the server really listens on, so `-e IVR_PORT=9000` stays healthy.
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('IVR_PORT', '8080'), timeout=2)"]
CMD ["ivr", "serve"]
