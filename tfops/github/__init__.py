"""GitHub: the Actions event (`event.py`) and the REST client (`client.py`).

`body.py` measures bodies as GitHub does (UTF-16 code units), `shapes.py` types and checks
the objects the API returns, `transport.py` bounds each exchange in time and keeps the token
on the API's origin, `errors.py` holds the errors the client raises.
"""
