# Never built here (no Docker engine on the development machines): kept small and read-checked.
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
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
CMD ["ivr", "serve"]
