# One image for every process of docker-compose.yml (web, worker, beat, flower, sandboxes).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only what the package needs: no tests, no .env, no virtual environment.
COPY pyproject.toml README.md ./
COPY config ./config
COPY connectors ./connectors
COPY worker ./worker
# Then an unprivileged user, whose empty home is the working directory (no stray .env there).
RUN pip install . \
    && cd / && rm -rf /src \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /home/app
USER app

EXPOSE 8000 5555
CMD ["crosschq-worker", "web", "--host", "0.0.0.0", "--port", "8000"]
