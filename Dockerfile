# The contimg worker image, for sites that can pull base images from a registry.
# Where no registry is reachable, scripts/build-worker-image builds the same
# image from Debian packages with debootstrap instead.
#
#   docker build -t contimg/wsclean:3.7 .
#
# WSClean 3.7 (Debian sid or newer) is needed: 3.6 and older lack -draw-model.
ARG DEBIAN_SUITE=sid
FROM debian:${DEBIAN_SUITE}-slim

ARG DEBIAN_SUITE
RUN apt-get -o Acquire::Check-Valid-Until=false update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        wsclean casacore-tools procps \
    && rm -rf /var/lib/apt/lists/* \
    && wsclean 2>&1 | grep -q '^-draw-model '

LABEL org.contimg.debian-suite="${DEBIAN_SUITE}"
ENV LANG=C.UTF-8 HOME=/tmp
WORKDIR /tmp
CMD ["wsclean", "-version"]
