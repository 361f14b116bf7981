"""``python -m backend.api``: serve the backend on HOST:PORT."""

import uvicorn

from backend.api.app import create_app
from backend.config.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower())
