# The host in a container: every package of this repository, the demo agent by default.
#   docker build -t agent-framework-host .
#   docker run -p 8000:8000 agent-framework-host                          # the demo agent
#   docker run -p 8000:8000 -v "$PWD:/work" -w /work agent-framework-host serve my_agent:agent --host 0.0.0.0
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /opt/agent-framework-host
COPY packages/ packages/
# Local packages (no versions to pin); $specs is split into arguments on purpose.
# hadolint ignore=DL3013,SC2086
RUN set -eu; \
    extras="serve,redis,openai,otlp"; \
    specs="./packages/hosting[$extras]"; \
    for dir in ./packages/hosting-*/; do specs="$specs ${dir%/}"; done; \
    pip install --no-cache-dir $specs; \
    useradd --create-home --uid 10001 --shell /usr/sbin/nologin host

USER 10001
WORKDIR /home/host
EXPOSE 8000

# Liveness restarts a wedged process; point load balancers at /readiness (503 while a dependency is down).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/liveness' % os.environ.get('PORT', '8000'), timeout=4)"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["agent-framework-host"]
CMD ["serve", "--host", "0.0.0.0"]
