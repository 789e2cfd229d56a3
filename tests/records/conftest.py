from tests.test_locks import backend_factory, locks

__all__ = ["backend_factory", "locks"]
