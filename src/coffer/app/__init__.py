"""The composition root: settings to services, the ASGI app, bootstrap, the server and its uvicorn fence."""
