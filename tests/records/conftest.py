from tests.records.test_locks import backend_factory, locks

__all__ = ["backend_factory", "locks"]
