import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_CACHE_KEY = "creditcare:heartbeat"


@shared_task
def heartbeat() -> str:
    """Beat fires this every minute: the cache key tells monitoring that beat and a worker live."""
    now = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    logger.info("heartbeat: beat and worker are alive at %s", now)
    return now
