# Rebound: gunicorn serving the app factory, as a non-root user.
# Standalone (`docker run -p 8000:8000 rebound`) it uses its embedded Redis under /data;
# with compose.yaml it talks to the Redis service (AOF on) instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 rebound \
 && mkdir /data && chown rebound:rebound /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY classifier ./classifier
COPY store ./store
COPY webhook ./webhook
RUN pip install . && python -c "import flanker.addresslib.address"   # build parser tables once

USER rebound
ENV REBOUND_HOST=0.0.0.0 \
    REBOUND_PORT=8000 \
    REBOUND_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
# /readyz, not /healthz: a container whose store is down is unhealthy, not "healthy while down"
# (the embedded Redis is restarted by its supervisor meanwhile; see README, "Self-healing")
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"
CMD ["rebound", "serve"]
